from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import SparkSession

from shoprec.config import Settings
from shoprec.locks import LockHeld
from shoprec.stages.context import RunContext
from shoprec.stages.runs import stage_run

DAY = dt.date(2026, 11, 2)


def test_a_second_run_of_a_stage_and_date_is_refused_and_recorded(
    spark: SparkSession, settings: Settings
) -> None:
    dag = RunContext.create(spark, settings, DAY, "run-dag")
    manual = RunContext.create(spark, settings, DAY, "run-manual")
    with stage_run(dag, "validate") as rec:
        refused = f"validate {DAY} is already running: run run-dag"
        with pytest.raises(LockHeld, match=refused), stage_run(manual, "validate"):
            pass  # pragma: no cover - refused on entry
        # another date, another stage, another train group: not refused
        with stage_run(RunContext.create(spark, settings, DAY + dt.timedelta(1), "r2"), "validate"):
            pass
        with stage_run(manual, "features"):
            pass
        with stage_run(dag, "train", scope="ease"), stage_run(manual, "train", scope="sasrec"):
            pass
        rec.rows_out = 1
    with stage_run(manual, "validate"):  # released at the end of the first run
        pass
    runs = dag.lake.read("ops.runs").where("stage = 'validate'").orderBy("started_at")
    assert [(r.run_id, r.status) for r in runs.collect() if r.run_date == DAY] == [
        ("run-dag", "success"),
        ("run-manual", "refused"),
        ("run-manual", "success"),
    ]
