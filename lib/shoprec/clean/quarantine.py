"""Rejected rows -> silver.quarantine rows: the raw record, a reason code, a detail."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S


def to_quarantine(
    rejected: DataFrame,
    *,
    entity: str,
    run_id: str,
    ingest_date: dt.date,
    quarantined_at: dt.datetime,
) -> DataFrame:
    """Rows with ``reason`` and ``source`` set -> quarantine rows, the record as received."""
    return rejected.select(
        F.lit(entity).alias(S.ENTITY),
        F.col(S.SOURCE),
        F.col(S.REASON),
        F.col(S.DETAIL).cast("string"),
        F.col(S.RECORD),
        F.col(S.SOURCE_FILE),
        F.lit(run_id).alias(S.RUN_ID),
        F.lit(quarantined_at).cast("timestamp").alias(S.QUARANTINED_AT),
        F.lit(ingest_date).cast("date").alias(S.INGEST_DATE),
    )
