"""Tiny silver-event frames for the feature tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

EVENT_SCHEMA = (
    "event_id string, event_type string, user_id string, session_id string, item_id string, "
    "quantity int, price double, event_ts timestamp, event_date date"
)


def ev(
    event_id: str,
    event_type: str,
    user_id: str,
    item_id: str | None,
    ts: dt.datetime,
    *,
    session_id: str = "s1",
    quantity: int | None = None,
    price: float | None = None,
) -> tuple[Any, ...]:
    """One silver event row (event_date follows event_ts, UTC)."""
    return (event_id, event_type, user_id, session_id, item_id, quantity, price, ts, ts.date())


def events_df(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    return spark.createDataFrame(rows, EVENT_SCHEMA)


def columns(df: DataFrame) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in df.schema.fields]


def schema_columns(schema: StructType) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]
