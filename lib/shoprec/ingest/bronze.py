"""Raw records -> bronze rows: the record as received plus ingest metadata."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S


def to_bronze(
    raw: DataFrame,
    *,
    source: str,
    source_format: str,
    run_id: str,
    ingest_date: dt.date,
    ingested_at: dt.datetime,
) -> DataFrame:
    """Stamp raw records (``record``, ``source_file``) with where and when they came in."""
    return raw.select(
        F.col(S.RECORD).cast("string"),
        F.lit(source).alias(S.SOURCE),
        F.lit(source_format).alias(S.SOURCE_FORMAT),
        F.col(S.SOURCE_FILE).cast("string"),
        F.lit(ingested_at).cast("timestamp").alias(S.INGESTED_AT),
        F.lit(run_id).alias(S.RUN_ID),
        F.lit(ingest_date).cast("date").alias(S.INGEST_DATE),
    )
