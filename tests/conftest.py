"""Shared fixtures: one local Spark session with Delta for the whole test run."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from shoprec.config import Settings, SparkConfig
from shoprec.lake import Lake
from shoprec.spark import build_spark
from shoprec.stages.nightly import NightReport, run_nightly
from shoprec.synthetic import ShopSpec, as_source, generate_shop

TEST_KEY = "test-pseudonymization-key-0123456789"


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    warehouse = tmp_path_factory.mktemp("warehouse")
    cfg = SparkConfig(
        master="local[2]",
        driver_memory="4g",
        conf={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"},
    )
    session = build_spark(cfg, warehouse_dir=str(warehouse))
    yield session
    session.stop()


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
def nights_conf(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A 400-user shop; its lake is shared by the pipeline and notebook tests."""
    shop = tmp_path_factory.mktemp("shop")
    generate_shop(ShopSpec(users=400, items=120, days=4, seed=11, start_date=NIGHTS_START), shop)
    root = tmp_path_factory.mktemp("rec") / "lake"
    return Settings().with_overrides(
        {
            "lake": {"root": str(root)},
            "privacy": {"key": TEST_KEY},
            "sources": [as_source(shop)],
            "models": {
                "ease_lambdas": [100.0, 400.0],
                "als_reg_params": [0.1],
                "itemknn_shrinks": [10.0],
                "neural": {"dim": 8, "epochs": 2, "batch_size": 512, "workers": 0},
            },
            "serving": {"list_size": 10, "repeat_purchase_categories": ["grocery", "pets"]},
            # tests/pipeline/test_search_stages.py and the DAG test cover search
            "search": {"enabled": False},
        }
    )


@pytest.fixture(scope="session")
def nights(spark: SparkSession, nights_conf: Settings) -> list[NightReport]:
    """Four nightly runs: two serve popularity (too little history), two train and gate."""
    return [run_nightly(spark, nights_conf, d) for d in NIGHTS]
