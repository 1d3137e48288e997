"""Which partitions are past retention on a run date."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import SparkSession

from shoprec import schemas as S
from shoprec.retention import held_past_retention, raw_cutoff

RUN = dt.date(2026, 11, 10)


def test_cutoff_keeps_the_run_date_and_raw_days_before_it() -> None:
    assert raw_cutoff(RUN, raw_days=30) == dt.date(2026, 10, 11)
    assert raw_cutoff(RUN, raw_days=1) == dt.date(2026, 11, 9)
    assert raw_cutoff(RUN, raw_days=0) == RUN  # only the run date's own records are kept
    with pytest.raises(ValueError, match="raw_days"):
        raw_cutoff(RUN, raw_days=-1)


def test_held_past_retention_counts_uncleared_records_of_old_dates(spark: SparkSession) -> None:
    def day(n: int) -> dt.date:
        return RUN - dt.timedelta(days=n)

    rows = [
        ("a", day(5)),
        ("b", day(5)),
        (None, day(5)),  # already cleared: not held
        ("c", day(4)),
        (None, day(3)),  # cleared by an earlier night: nothing held
        ("d", day(2)),  # the cutoff itself: kept
        ("e", day(1)),
        ("f", RUN),
    ]
    raw = spark.createDataFrame(rows, f"{S.RECORD} string, {S.INGEST_DATE} date")
    held = held_past_retention(raw, run_date=RUN, raw_days=2).collect()
    assert {r[S.INGEST_DATE]: r["rows"] for r in held} == {day(5): 2, day(4): 1}
