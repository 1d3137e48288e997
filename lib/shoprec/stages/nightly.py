"""The nightly run: every stage for one date, in order; and the demo over several days."""

from __future__ import annotations

import datetime as dt
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from shoprec.config import Settings
from shoprec.errors import InputError
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.runs import new_run_id

Stage = Callable[[RunContext], StageReport]

# The order a night runs in; stage ``x`` is the function ``x`` of ``shoprec.stages.x``.
# Retention comes once validate has read the night's raw records (it never touches
# them: only dates past retention). Site search (the last three) has its own index,
# ranker and serving tables, from the same silver.
STAGES: tuple[str, ...] = (
    "ingest",
    "validate",
    "retention",
    "features",
    "train",
    "evaluate",
    "score",
    "publish",
    "search_index",
    "search_train",
    "search_publish",
)


def stage_function(name: str) -> Stage:
    """The stage called ``name``, imported when asked for.

    Every DAG task is its own process: ingest need not pay for importing torch and
    Great Expectations (seconds each) that only the model and validate stages use.
    """
    if name not in STAGES:
        raise InputError(f"unknown stage {name!r}; known: {', '.join(STAGES)}")
    stage: Stage = getattr(importlib.import_module(f"shoprec.stages.{name}"), name)
    return stage


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
    run = stage_function(stage)
    if models is not None and stage != "train":
        raise InputError(f"--models applies to the train stage only, not {stage!r}")
    ctx = RunContext.create(
        spark, settings, run_date, run_id or new_run_id(run_date), models=models
    )
    return run(ctx)


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
    for name in STAGES:
        if name in SEARCH_STAGES and not settings.search.enabled:
            continue
        started = time.perf_counter()
        night.stages.append(stage_function(name)(ctx))
        if on_stage is not None:
            on_stage(name, time.perf_counter() - started)
    return night
