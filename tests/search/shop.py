"""A small synthetic shop loaded straight into silver, for the search tests.

The search code reads silver.events and silver.items only; going through ingest and
the quality gate would cost minutes per day on a shared 2-core machine, so the
canonical JSON lines are typed into the silver schema directly (user ids are kept
as they are, which is all pseudonymization changes for search).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.lake import Lake
from shoprec.synthetic import ShopSpec, generate_shop

START = dt.date(2026, 11, 1)


def load_shop(spark: SparkSession, lake: Lake, spec: ShopSpec, out: Path) -> list[dt.date]:
    """Generate ``spec`` under ``out`` and write each day to silver; returns the days."""
    generate_shop(spec, out)
    days = [spec.date(i) for i in range(spec.days)]
    for day in days:
        ev = spark.read.json(str(out / f"events/date={day}"), schema=_EVENT_JSON)
        ts = F.to_timestamp("timestamp")
        events = ev.select(
            *[c for c in S.SILVER_EVENTS.fieldNames() if c in ev.columns],
            ts.alias(S.EVENT_TS),
            F.to_date(ts).alias(S.EVENT_DATE),
            F.lit("synthetic").alias(S.SOURCE),
            F.lit("load").alias(S.RUN_ID),
            F.lit(day).alias(S.INGEST_DATE),
        )
        lake.replace(events, "silver.events", where={S.INGEST_DATE: day})
        cat = spark.read.json(str(out / f"catalog/date={day}"), schema=_ITEM_JSON).select(
            "*",
            F.lit("synthetic").alias(S.SOURCE),
            F.lit("load").alias(S.RUN_ID),
            F.lit(day).alias(S.SNAPSHOT_DATE),
        )
        lake.replace(cat, "silver.items", where={S.SNAPSHOT_DATE: day})
    return days


_EVENT_JSON = (
    "event_id string, event_type string, user_id string, session_id string, item_id string, "
    "quantity int, price double, currency string, query string, results array<string>, "
    "search_id string, position int, timestamp string"
)
_ITEM_JSON = (
    "item_id string, title string, description string, category_path string, brand string, "
    "price double, currency string, available boolean, added_date date"
)
