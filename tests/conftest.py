"""Shared fixtures: one local Spark session with Delta for the whole test run."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from shoprec.config import BASELINE_MODELS, Settings, SparkConfig
from shoprec.lake import Lake
from shoprec.spark import build_spark
from shoprec.stages.context import RunContext
from shoprec.stages.nightly import NightReport, run_nightly, stage_function
from shoprec.stages.runs import new_run_id
from shoprec.synthetic import ShopSpec, as_source, generate_shop
from tests.servers import S3, mlflow_server, s3_server

TEST_KEY = "test-pseudonymization-key-0123456789"

# Spark for a test's data (tens to thousands of rows): the queries run interpreted.
# Compiling every plan to Java (whole-stage code generation, then Janino) is a quarter of
# the driver JVM's CPU over a night of the test shop, and the compiled code never runs
# long enough to pay it back (night 1 of the nights fixture, alone: 140-159 s -> 120 s).
# Adaptive execution runs each shuffle stage as a job of its own and re-optimizes the
# rest of the plan after it; on a few hundred rows there is nothing to adapt to, and the
# extra jobs and planning were 10-17% of a night (3 local nights of the cluster test's
# shop with search: 322 s -> 284 s wall, jobs per night 651 -> 368).
# A real night keeps Spark's defaults; the demo and README's commands do not use this.
TINY_DATA_SPARK = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",
}


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    warehouse = tmp_path_factory.mktemp("warehouse")
    cfg = SparkConfig(
        master="local[2]",
        driver_memory="4g",
        conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            **TINY_DATA_SPARK,
        },
    )
    session = build_spark(cfg, warehouse_dir=str(warehouse))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    """An S3 endpoint on loopback (moto's server), started once per test process."""
    with s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_spark(spark: SparkSession, s3: S3) -> SparkSession:
    """The session Spark, also reaching the test S3 endpoint through s3a:// (as conf does)."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    for key, value in s3.hadoop_conf().items():
        hadoop.set(key.removeprefix("spark.hadoop."), value)
    return spark


@pytest.fixture
def lake(spark: SparkSession, tmp_path: Path) -> Lake:
    return Lake(spark, str(tmp_path / "lake"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Test settings: a lake in tmp_path, a key from conf, no sources yet."""
    return Settings().with_overrides(
        {"lake": {"root": str(tmp_path / "lake")}, "privacy": {"key": TEST_KEY}}
    )


# ------------------------------------------------------------------ a small shop, 4 nights
NIGHTS_START = dt.date(2026, 11, 1)
NIGHTS = [NIGHTS_START + dt.timedelta(days=i) for i in range(4)]


@pytest.fixture(scope="session")
def tracking_server(s3: S3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An MLflow tracking server on loopback whose artifacts are in the S3 bucket."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow"), s3) as uri:
        yield uri


@pytest.fixture(scope="session")
def nights_conf(
    tmp_path_factory: pytest.TempPathFactory, s3_spark: SparkSession, s3: S3, tracking_server: str
) -> Settings:
    """A 400-user shop on the S3 lake (conf/s3.yaml pointed at the test servers); its
    lake is shared by the pipeline, read-command and notebook tests."""
    from shoprec.config import load_settings
    from shoprec.lake import Storage, StorageOptions

    shop = tmp_path_factory.mktemp("shop")
    generate_shop(ShopSpec(users=400, items=120, days=4, seed=11, start_date=NIGHTS_START), shop)
    raw = s3.uri("nights", "raw")
    Storage(StorageOptions.from_spark(s3_spark)).upload(shop, raw)  # the shop's feeds on S3
    return load_settings(Path(__file__).parents[1] / "conf" / "s3.yaml").with_overrides(
        {
            "spark": {"conf": {**s3.hadoop_conf(), **TINY_DATA_SPARK}},
            "lake": {"root": s3.uri("nights", "lake")},
            "registry": {"tracking_uri": tracking_server},
            "privacy": {"key": TEST_KEY},
            "sources": [as_source(raw)],
            "models": {
                "ease_lambdas": [100.0, 400.0],
                "als_reg_params": [0.1],
                "itemknn_shrinks": [10.0],
                "neural": {"dim": 8, "epochs": 2, "batch_size": 512, "workers": 0},
            },
            "serving": {"list_size": 10, "repeat_purchase_categories": ["grocery", "pets"]},
            # tests/stages/test_search.py and the cluster test cover search
            "search": {"enabled": False},
        }
    )


BACKFILL = ("ingest", "validate", "features")


@pytest.fixture(scope="session")
def nights(s3_spark: SparkSession, nights_conf: Settings) -> list[NightReport]:
    """Four nights, as a shop's first days go: too little history to train on the first
    two (popularity is served on night 1; night 2 is a backfill of the history stages
    only, as an engineer catching up on a missed date runs them); the classical models
    on night 3 (the first champion); every model on night 4, against that champion.

    Each stage of a full night is covered on nights 1 and 4; nights 2 and 3 differ only
    where the tests need them to, which keeps the most expensive fixture of the suite
    to what the tests read.
    """
    first, backfill, classical, full = NIGHTS
    reports = [run_nightly(s3_spark, nights_conf, first)]
    ctx = RunContext.create(s3_spark, nights_conf, backfill, new_run_id(backfill))
    reports.append(NightReport(backfill, ctx.run_id, [stage_function(s)(ctx) for s in BACKFILL]))
    only_classical = nights_conf.with_overrides({"models": {"enabled": list(BASELINE_MODELS)}})
    reports.append(run_nightly(s3_spark, only_classical, classical))
    reports.append(run_nightly(s3_spark, nights_conf, full))
    return reports


# Longest files first (the longest-processing-time rule for two workers): the two whole
# pipelines against real servers start at once, one on each xdist worker, the next
# longest follow, and the many short files fill in at the end instead of one long file
# starting late and leaving a worker idle. Seconds per file in a full run (f97a07e..):
# nightly ~850, cluster ~700, search ~250, validate ~200, publish ~100, the rest < 60.
# --dist loadfile hands files out in this order only with --no-loadscope-reorder
# (pyproject's addopts); xdist's default reorders them by their number of tests.
HEAVIEST = (
    "tests/stages/test_nightly.py",
    "tests/cluster/test_on_cluster.py",
    "tests/stages/test_search.py",
    "tests/stages/test_validate.py",
    "tests/serving/test_publish.py",
    "tests/bench/test_offline.py",
    "tests/training/test_horovod_train.py",
)


def _cost_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::")[0]
    return HEAVIEST.index(path) if path in HEAVIEST else len(HEAVIEST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_cost_rank)  # stable: tests keep their order within a file
