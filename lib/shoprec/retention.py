"""Retention of raw records: which partitions hold a payload past its time on a run date.

bronze.events and bronze.catalog keep each record as received, and silver.quarantine
keeps the raw record of each rejected one: personal data included (e-mail, IP, the
shop's own user ids). A raw record is kept ``raw_days`` days after its ingest date;
on the night of D, every partition ingested before :func:`raw_cutoff` loses its
``record`` (set to null; the retention stage does it). The rows stay, with their
ids, source, ingest stamps and reason codes, so counts stay accountable.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S

# The tables that keep raw records: ``record``, partitioned by ``ingest_date``.
RAW_TABLES: tuple[str, ...] = ("bronze.events", "bronze.catalog", "silver.quarantine")


def raw_cutoff(run_date: dt.date, *, raw_days: int) -> dt.date:
    """The oldest ingest date whose raw records are kept on ``run_date``.

    ``run_date - raw_days``: the run date and the ``raw_days`` days before it keep
    their payload; earlier partitions are past retention.

    >>> raw_cutoff(dt.date(2026, 12, 1), raw_days=30)
    datetime.date(2026, 11, 1)
    """
    if raw_days < 0:
        raise ValueError(f"raw_days must be >= 0, got {raw_days}")
    return run_date - dt.timedelta(days=raw_days)


def held_past_retention(raw: DataFrame, *, run_date: dt.date, raw_days: int) -> DataFrame:
    """Raw records still held past retention, per ingest date.

    ``raw``: a table of :data:`RAW_TABLES` (``record``, ``ingest_date``). Returns
    ``ingest_date``, ``rows``: one row per partition date before :func:`raw_cutoff`
    with records not yet cleared, and how many. Already cleared rows do not count,
    so once a night has run this is empty until another date passes the cutoff.
    """
    cutoff = raw_cutoff(run_date, raw_days=raw_days)
    return (
        raw.where((F.col(S.INGEST_DATE) < F.lit(cutoff)) & F.col(S.RECORD).isNotNull())
        .groupBy(S.INGEST_DATE)
        .agg(F.count(F.lit(1)).alias("rows"))
    )
