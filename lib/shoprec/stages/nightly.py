"""The nightly run: every stage for one date, in order; and the demo over several days."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from shoprec.config import Settings
from shoprec.errors import InputError
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.evaluate import evaluate
from shoprec.stages.features import features
from shoprec.stages.ingest import ingest
from shoprec.stages.publish import publish
from shoprec.stages.runs import new_run_id
from shoprec.stages.score import score
from shoprec.stages.search_index import search_index
from shoprec.stages.search_publish import search_publish
from shoprec.stages.search_train import search_train
from shoprec.stages.train import train
from shoprec.stages.validate import validate

Stage = Callable[[RunContext], StageReport]

# The order a night runs in.
STAGES: dict[str, Stage] = {
    "ingest": ingest,
    "validate": validate,
    "features": features,
    "train": train,
    "evaluate": evaluate,
    "score": score,
    "publish": publish,
    # Site search: its own index, ranker and serving tables, from the same silver.
    "search_index": search_index,
    "search_train": search_train,
    "search_publish": search_publish,
}

SEARCH_STAGES = ("search_index", "search_train", "search_publish")


@dataclass
class NightReport:
    """The stage reports of one date."""

    run_date: dt.date
    run_id: str
    stages: list[StageReport] = field(default_factory=list)


def run_stage(
    spark: SparkSession,
    settings: Settings,
    stage: str,
    run_date: dt.date,
    run_id: str | None = None,
    *,
    models: tuple[str, ...] | None = None,
) -> StageReport:
    """Run one stage for one date; ``models`` limits ``train`` to some enabled models."""
    if stage not in STAGES:
        raise InputError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
    if models is not None and stage != "train":
        raise InputError(f"--models applies to the train stage only, not {stage!r}")
    ctx = RunContext.create(
        spark, settings, run_date, run_id or new_run_id(run_date), models=models
    )
    return STAGES[stage](ctx)


def run_nightly(
    spark: SparkSession,
    settings: Settings,
    run_date: dt.date,
    *,
    on_stage: Callable[[str, float], None] | None = None,
) -> NightReport:
    """Every stage for ``run_date`` in order, under one run id; stops at the first failure.

    ``on_stage(name, seconds)`` is called after each stage that succeeded.
    """
    ctx = RunContext.create(spark, settings, run_date, new_run_id(run_date))
    night = NightReport(run_date, ctx.run_id)
    for name, stage in STAGES.items():
        if name in SEARCH_STAGES and not settings.search.enabled:
            continue
        started = time.perf_counter()
        night.stages.append(stage(ctx))
        if on_stage is not None:
            on_stage(name, time.perf_counter() - started)
    return night
