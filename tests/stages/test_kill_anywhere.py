"""Kill anywhere: a stage SIGKILLed at a fault point, then rerun, leaves the tables a
run that was never killed leaves.

A small shop's first three days are backfilled (ingest, validate, features); the
fourth night then runs stage by stage as separate processes (``shoprec run STAGE``
under one run id, as the DAG's tasks do), the lake copied before and after each
stage. Each case copies the lake from before its stage, runs the stage with
``SHOPREC_KILL_AT`` naming a fault point (:mod:`shoprec.faults`): the process dies
there with SIGKILL, no cleanup. The stage is run again, as a retried task would
be, and every table is compared, sorted, with the never-killed run's (serving
tables as their publication serves them; ops tables, which record attempts, and
wall-clock columns aside).

The reference night alone is eight stage processes and every case two more (23
minutes here for the 11 cases): the matrix runs with ``make test-faults`` (marker ``faults``), not
in ``make test``, which covers a publication that fails between tables in-process
(tests/serving/test_publish.py) and the locks a killed run leaves
(tests/test_locks.py). README's reliability section has the matrix's last result.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.sql import SparkSession

from shoprec.config import Settings
from shoprec.lake import Lake
from shoprec.schemas import TABLES
from shoprec.serving.publish import SEARCH_SERVING_TABLES, SERVING_TABLES, read_published
from shoprec.stages.nightly import run_stage
from shoprec.synthetic import ShopSpec, as_source, generate_shop
from tests.conftest import TEST_KEY

START = dt.date(2026, 11, 1)
DAYS = [START + dt.timedelta(days=i) for i in range(4)]
NIGHT = DAYS[-1]
RUN_ID = "night-4"
STAGES = ("ingest", "validate", "retention", "features", "train", "evaluate", "score", "publish")
REPO = Path(__file__).resolve().parents[2]
# written by the clock, not by the data
VOLATILE = {
    "ingested_at",
    "quarantined_at",
    "generated_at",
    "validated_at",
    "recorded_at",
    "published_at",
    "first_seen_at",
}
FAULTS = pytest.mark.faults

CASES = [
    pytest.param("ingest", "lake.write.bronze.events", marks=FAULTS, id="ingest-after-events"),
    pytest.param("validate", "stage.validate.start", marks=FAULTS, id="validate-at-start"),
    pytest.param("validate", "lake.write.silver.events", marks=FAULTS, id="validate-mid-writes"),
    pytest.param("retention", "stage.retention.end", marks=FAULTS, id="retention-at-end"),
    pytest.param("features", "lake.write.gold.id_map", marks=FAULTS, id="features-after-new-ids"),
    pytest.param("features", "stage.features.end", marks=FAULTS, id="features-at-end"),
    pytest.param("train", "files.write._models@2", marks=FAULTS, id="train-between-models"),
    pytest.param("evaluate", "stage.evaluate.end", marks=FAULTS, id="evaluate-at-end"),
    pytest.param("score", "staged.write.gold.similar_items", marks=FAULTS, id="score-mid-staging"),
    pytest.param("publish", "publish.between_tables", marks=FAULTS, id="publish-between-tables"),
    pytest.param("publish", "stage.publish.end", marks=FAULTS, id="publish-at-end"),
]


def settings_for(root: Path, shop: Path) -> Settings:
    return Settings().with_overrides(
        {
            "lake": {"root": str(root)},
            "privacy": {"key": TEST_KEY},
            "sources": [as_source(shop)],
            "models": {"enabled": ["popularity", "itemknn", "ease"], "ease_lambdas": [100.0]},
            "search": {"enabled": False},
            "spark": {"conf": {"spark.sql.shuffle.partitions": "2"}},
        }
    )


def run(conf: Settings, folder: Path, stage: str, kill_at: str | None = None) -> int:
    """``shoprec run STAGE`` for the night in a process of its own; its exit status."""
    conf_file = folder / f"conf-{stage}.yaml"
    conf_file.write_text(yaml.safe_dump(conf.model_dump(mode="json")))
    env = {k: v for k, v in os.environ.items() if k != "SHOPREC_KILL_AT"}
    if kill_at:
        env["SHOPREC_KILL_AT"] = kill_at
    cmd = [sys.executable, "-m", "shoprec", "run", stage, "--conf", str(conf_file)]
    cmd += ["--date", NIGHT.isoformat(), "--run-id", RUN_ID]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, -9):
        raise AssertionError(f"{stage} exited {done.returncode}: {done.stderr[-3000:]}")
    return done.returncode


@pytest.fixture(scope="module")
def night(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The backfilled lake, and copies of it before and after each stage of night 4."""
    base = tmp_path_factory.mktemp("kill")
    shop = base / "shop"
    generate_shop(ShopSpec(users=120, items=50, days=4, seed=5, start_date=START), shop)
    conf = settings_for(base / "lake", shop)
    for day in DAYS[:-1]:
        for stage in ("ingest", "validate", "features"):
            run_stage(spark, conf, stage, day, run_id=f"backfill-{day:%Y%m%d}")
    snapshots: dict[str, Path] = {}
    for stage in STAGES:
        snapshots[f"before {stage}"] = base / f"before-{stage}"
        shutil.copytree(base / "lake", snapshots[f"before {stage}"])
        assert run(conf, base, stage) == 0
    snapshots["after"] = base / "after"
    shutil.copytree(base / "lake", snapshots["after"])
    return {"shop": shop, "snapshots": snapshots, "base": base}


def contents(spark: SparkSession, root: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, without the columns a clock writes."""
    lake = Lake(spark, str(root))
    out = {}
    for name in TABLES:
        if name.startswith("ops.") or name == "gold.publications" or not lake.exists(name):
            continue
        serving = name in SERVING_TABLES or name in SEARCH_SERVING_TABLES
        df = read_published(lake, name) if serving else lake.read(name)
        df = df.drop(*[c for c in df.columns if c in VOLATILE])
        out[name] = sorted(tuple(str(v) for v in r) for r in df.collect())
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("stage", "kill_at"), CASES)
def test_a_killed_stage_rerun_leaves_the_same_tables(
    spark: SparkSession, night: dict[str, Any], stage: str, kill_at: str, tmp_path: Path
) -> None:
    snapshots = night["snapshots"]
    lake = tmp_path / "lake"
    shutil.copytree(snapshots[f"before {stage}"], lake)
    conf = settings_for(lake, night["shop"])
    assert run(conf, tmp_path, stage, kill_at=kill_at) == -9, f"{kill_at} was not reached"
    assert run(conf, tmp_path, stage) == 0  # the retried task, same run id
    # the never-killed run's lake after this stage (the stages after it read only that)
    following = STAGES[STAGES.index(stage) + 1 :]
    expected = contents(spark, snapshots[f"before {following[0]}" if following else "after"])
    got = contents(spark, lake)
    assert sorted(got) == sorted(expected)
    differ = [name for name in expected if got[name] != expected[name]]
    assert differ == []
