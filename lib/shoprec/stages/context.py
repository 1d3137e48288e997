"""What every stage gets (:class:`RunContext`) and gives back (:class:`StageReport`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from shoprec.config import Settings
from shoprec.lake import Lake


@dataclass(frozen=True)
class RunContext:
    """Everything a stage needs to know about the run it is part of."""

    spark: SparkSession
    lake: Lake
    settings: Settings
    run_date: dt.date
    run_id: str
    models: tuple[str, ...] | None = None  # train only these (None: every enabled model)

    @classmethod
    def create(
        cls,
        spark: SparkSession,
        settings: Settings,
        run_date: dt.date,
        run_id: str,
        *,
        models: tuple[str, ...] | None = None,
    ) -> RunContext:
        return cls(spark, Lake(spark, settings.lake.root), settings, run_date, run_id, models)


@dataclass
class StageReport:
    """What a stage did, for the run summary."""

    stage: str
    run_date: dt.date
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows written
    counts: dict[str, int] = field(default_factory=dict)
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    validations: list[dict[str, Any]] = field(default_factory=list)
    data_docs: str | None = None
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> str:
        """Keep a line for the summary; returns it (for the run record's message)."""
        self.notes.append(text)
        return text
