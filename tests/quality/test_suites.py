from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import SparkSession

from shoprec.quality import suites
from shoprec.quality.runner import Validator


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(docs=False)


def metrics(spark: SparkSession, rate: float, accepted: int, ratio: float | None):  # type: ignore[no-untyped-def]
    return spark.createDataFrame(
        [(accepted, rate, 2.0, ratio)],
        "accepted_events long, quarantine_rate double, hours_since_latest_event double, volume_ratio double",
    )


def suite(volume: bool = True) -> suites.Suite:
    return suites.run_metrics_suite(
        max_quarantine_rate=0.1,
        freshness_hours=48,
        min_volume_ratio=0.5 if volume else None,
        max_volume_ratio=2.0 if volume else None,
    )


def test_metrics_pass(spark: SparkSession, validator: Validator) -> None:
    out = validator.validate(metrics(spark, 0.05, 100, 1.0), suite())
    assert out.success and out.status == "passed" and out.evaluated == 4


@pytest.mark.parametrize(
    ("rate", "accepted", "ratio", "column"),
    [
        (0.2, 100, 1.0, "quarantine_rate"),
        (0.0, 0, 1.0, "accepted_events"),
        (0.0, 100, 0.1, "volume_ratio"),
    ],
)
def test_metrics_block(
    spark: SparkSession, validator: Validator, rate: float, accepted: int, ratio: float, column: str
) -> None:
    out = validator.validate(metrics(spark, rate, accepted, ratio), suite())
    assert out.blocking and out.status == "failed"
    assert any(column in f for f in out.blocking_failures)


def test_warning_does_not_block(spark: SparkSession, validator: Validator) -> None:
    df = spark.createDataFrame(
        [(100, 0.0, 99.0, None)],
        "accepted_events long, quarantine_rate double, hours_since_latest_event double, volume_ratio double",
    )
    out = validator.validate(df, suite(volume=False))
    assert not out.blocking and out.status == "warning"
    assert "hours_since_latest_event" in out.warnings[0]


def test_bronze_suite_blocks_an_empty_day(spark: SparkSession, validator: Validator) -> None:
    from shoprec import schemas as S

    empty = spark.createDataFrame([], S.BRONZE)
    out = validator.validate(
        empty, suites.bronze_suite("bronze.events", dt.date(2026, 11, 1), ["a"])
    )
    assert out.blocking
    assert any("row_count" in f for f in out.blocking_failures)


def test_schema_drift_blocks(spark: SparkSession, validator: Validator) -> None:
    drifted = spark.createDataFrame([("x",)], "surprise string")
    out = validator.validate(drifted, suites.silver_items_suite())
    assert any("expect_table_columns_to_match_ordered_list" in f for f in out.blocking_failures)


def test_data_docs_are_built_in_a_folder_the_validator_removes(spark: SparkSession) -> None:
    with Validator(docs=True) as v:
        v.validate(
            metrics(spark, 0.01, 100, 1.0),
            suites.run_metrics_suite(
                max_quarantine_rate=0.2,
                freshness_hours=48,
                min_volume_ratio=0.2,
                max_volume_ratio=5.0,
            ),
        )
        site = v.build_docs()
        assert site is not None and (site / "index.html").is_file()
    assert not site.exists()
