"""Shared fixtures: one local Spark session with Delta for the whole test run."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from shoprec.config import Settings, SparkConfig
from shoprec.lake import Lake
from shoprec.spark import build_spark

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
