from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys

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


def test_a_run_killed_mid_stage_gets_its_row_from_the_run_that_takes_over(
    spark: SparkSession, settings: Settings
) -> None:
    """The killed run wrote nothing at its end; its lease says who it was and when."""
    ctx = RunContext.create(spark, settings, DAY, "run-retry")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    started = "2026-11-03T02:00:00+00:00"
    ctx.lake.create_json(
        f"_locks/score/{DAY}/0000000001.json",
        {
            "run_id": "run-killed",
            "host": socket.gethostname(),
            "pid": int(dead.stdout),  # exited: gone, as after a SIGKILL
            "acquired_at": started,
            "renewed_at": "2026-11-03T02:05:00+00:00",
            "expires_at": "2099-01-01T00:00:00+00:00",  # not expired: taken over at once
        },
    )
    with stage_run(ctx, "score"):
        pass
    rows = ctx.lake.read("ops.runs").where("stage = 'score'").orderBy("started_at").collect()
    assert [(r.run_id, r.status) for r in rows] == [
        ("run-killed", "abandoned"),
        ("run-retry", "success"),
    ]
    killed = rows[0]
    assert killed.started_at == dt.datetime(2026, 11, 3, 2, 0)  # session time zone: UTC
    assert killed.ended_at == dt.datetime(2026, 11, 3, 2, 5)
    assert "its process is gone" in killed.message and "run run-retry" in killed.message
