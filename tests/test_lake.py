from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from shoprec import schemas as S
from shoprec.lake import Lake, predicate

D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)


def bronze_rows(spark: SparkSession, day: dt.date, source: str, n: int):  # type: ignore[no-untyped-def]
    now = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
    rows = [(f"r{i}", source, "canonical", "f", now, "run", day) for i in range(n)]
    return spark.createDataFrame(rows, S.BRONZE)


def test_read_of_unwritten_table_is_empty_with_schema(lake: Lake) -> None:
    df = lake.read("silver.events")
    assert df.count() == 0 and df.schema == S.SILVER_EVENTS
    assert lake.version("silver.events") is None


def test_replace_touches_only_its_partition_and_is_idempotent(
    spark: SparkSession, lake: Lake
) -> None:
    lake.replace(
        bronze_rows(spark, D1, "a", 3), "bronze.events", where={S.INGEST_DATE: D1, S.SOURCE: "a"}
    )
    lake.replace(
        bronze_rows(spark, D1, "b", 2), "bronze.events", where={S.INGEST_DATE: D1, S.SOURCE: "b"}
    )
    lake.replace(
        bronze_rows(spark, D2, "a", 4), "bronze.events", where={S.INGEST_DATE: D2, S.SOURCE: "a"}
    )
    before = lake.read("bronze.events")
    assert before.count() == 9
    snapshot = before.collect()
    lake.replace(
        bronze_rows(spark, D1, "a", 3), "bronze.events", where={S.INGEST_DATE: D1, S.SOURCE: "a"}
    )
    assertDataFrameEqual(lake.read("bronze.events"), snapshot)
    lake.replace(
        bronze_rows(spark, D1, "a", 1), "bronze.events", where={S.INGEST_DATE: D1, S.SOURCE: "a"}
    )
    counts = {
        (r[0], r[1]): r[2]
        for r in lake.read("bronze.events").groupBy(S.INGEST_DATE, S.SOURCE).count().collect()
    }
    assert counts == {(D1, "a"): 1, (D1, "b"): 2, (D2, "a"): 4}


def test_replace_rejects_rows_outside_the_partition(spark: SparkSession, lake: Lake) -> None:
    lake.replace(
        bronze_rows(spark, D1, "a", 2), "bronze.events", where={S.INGEST_DATE: D1, S.SOURCE: "a"}
    )
    with pytest.raises(Exception, match=r"(?i)replaceWhere|does not conform|violat"):
        lake.replace(
            bronze_rows(spark, D2, "a", 1),
            "bronze.events",
            where={S.INGEST_DATE: D1, S.SOURCE: "a"},
        )
    assert lake.read("bronze.events").count() == 2  # the failed write changed nothing


def test_replace_only_on_partition_columns(spark: SparkSession, lake: Lake) -> None:
    with pytest.raises(ValueError, match="not partition columns"):
        lake.replace(bronze_rows(spark, D1, "a", 1), "bronze.events", where={S.RUN_ID: "x"})


def test_tables_are_registered_for_sql(spark: SparkSession, lake: Lake) -> None:
    lake.replace(
        bronze_rows(spark, D1, "a", 2), "bronze.catalog", where={S.INGEST_DATE: D1, S.SOURCE: "a"}
    )
    assert spark.sql("SELECT count(*) FROM bronze.catalog").first()[0] == 2  # type: ignore[index]
    spark.sql("DROP TABLE IF EXISTS bronze.catalog")


def test_write_json(lake: Lake) -> None:
    path = lake.write_json("_quality/results/x.json", {"a": 1})
    assert json.loads(Path(path).read_text()) == {"a": 1}


def test_predicate_quotes_values() -> None:
    assert predicate({"d": D1, "s": "it's"}) == "`d` = '2026-11-01' AND `s` = 'it\\'s'"
