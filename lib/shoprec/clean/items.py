"""Bronze catalog -> silver.items: typed, validated, one row per item per snapshot."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.clean._common import first_failure, present
from shoprec.ingest.formats import MALFORMED

REQUIRED_ITEM_FIELDS: tuple[str, ...] = (S.ITEM_ID, S.TITLE, S.CATEGORY_PATH)


def type_items(fields: DataFrame) -> DataFrame:
    """Cast canonical item fields and mark the first broken rule in ``reason``."""
    avail = F.lower(F.trim(F.col(S.AVAILABLE)))
    t = fields.select(
        "*",
        F.col(S.PRICE).cast("double").alias("_price"),
        F.to_date(S.ADDED_DATE).alias("_added"),
        F.when(avail.isNull() | (avail == ""), F.lit(True))
        .when(avail.isin("true", "1", "yes", "in stock", "in_stock"), F.lit(True))
        .when(avail.isin("false", "0", "no", "out of stock", "out_of_stock"), F.lit(False))
        .alias("_available"),
    )
    rules: list[tuple[Column, str, Column]] = [
        (F.col(MALFORMED), S.MALFORMED_RECORD, F.lit("record is not a readable object")),
    ]
    rules += [(~present(c), S.MISSING_FIELD, F.lit(c)) for c in REQUIRED_ITEM_FIELDS]
    rules += [
        (
            present(S.PRICE) & F.col("_price").isNull(),
            S.INVALID_TYPE,
            F.concat(F.lit("price="), F.col(S.PRICE)),
        ),
        (F.col("_available").isNull(), S.INVALID_TYPE, F.concat(F.lit("available="), avail)),
        (
            present(S.ADDED_DATE) & F.col("_added").isNull(),
            S.INVALID_TYPE,
            F.concat(F.lit("added_date="), F.col(S.ADDED_DATE)),
        ),
        (F.col("_price") < 0, S.NEGATIVE_PRICE, F.col(S.PRICE)),
    ]
    reason, detail = first_failure(rules)
    return t.select(
        F.trim(S.ITEM_ID).alias(S.ITEM_ID),
        F.trim(S.TITLE).alias(S.TITLE),
        F.col(S.DESCRIPTION),
        F.lower(F.regexp_replace(F.trim(S.CATEGORY_PATH), r"\s*/\s*", "/")).alias(S.CATEGORY_PATH),
        F.col(S.BRAND),
        F.col("_price").alias(S.PRICE),
        F.upper(F.coalesce(F.col(S.CURRENCY), F.lit("USD"))).alias(S.CURRENCY),
        F.col("_available").alias(S.AVAILABLE),
        F.col("_added").alias(S.ADDED_DATE),
        F.col(S.RECORD),
        F.col(S.SOURCE_FILE),
        reason.alias(S.REASON),
        detail.alias(S.DETAIL),
    )


def mark_duplicate_items(accepted: DataFrame) -> DataFrame:
    """Add ``_duplicate`` to all but one row per item id (the last one received wins)."""
    w = Window.partitionBy(S.ITEM_ID).orderBy(F.col(S.RECORD).desc())
    return accepted.withColumn("_duplicate", F.row_number().over(w) > 1)


def to_silver_items(accepted: DataFrame, *, snapshot_date: dt.date, run_id: str) -> DataFrame:
    """Unique accepted items (with their ``source``) -> silver.items rows of one snapshot."""
    stamps = {S.RUN_ID, S.SNAPSHOT_DATE}
    return accepted.select(
        *[f.name for f in S.SILVER_ITEMS.fields if f.name not in stamps],
        F.lit(run_id).alias(S.RUN_ID),
        F.lit(snapshot_date).cast("date").alias(S.SNAPSHOT_DATE),
    )
