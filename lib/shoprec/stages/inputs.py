"""What several stages read from the lake for a run date, read one way.

* :func:`events_up_to`: the silver events known by the end of a day;
* :func:`snapshot`: the catalog as of a day;
* :func:`read_index`: a day's search index tables;
* :func:`windows`: the evaluation protocol's cut points for a day.

Example::

    events = events_up_to(lake, day, lookback_days=90)
    w = windows(day, test_days=1, validation_days=1)
    before_test = events.where(F.col("event_ts") < F.lit(w.test_start))
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.errors import InputError
from shoprec.lake import Lake
from shoprec.search.engine import Index

INDEX_TABLES = ("gold.search_postings", "gold.search_terms", "gold.search_field_stats")


def events_up_to(lake: Lake, day: dt.date, lookback_days: int) -> DataFrame:
    """Silver events known by the end of ``day`` (ingested then), within the look-back.

    An event counts when it was ingested on or before ``day`` and happened in the
    ``lookback_days`` before ``day`` or on it.
    """
    start = day - dt.timedelta(days=lookback_days)
    return lake.read("silver.events").where(
        (F.col(S.INGEST_DATE) <= F.lit(day))
        & (F.col(S.EVENT_DATE) <= F.lit(day))
        & (F.col(S.EVENT_DATE) >= F.lit(start))
    )


def snapshot(lake: Lake, day: dt.date) -> DataFrame:
    """The newest catalog snapshot on or before ``day``; InputError when there is none.

    Runs one small aggregate to find the snapshot's date.
    """
    items = lake.read("silver.items").where(F.col(S.SNAPSHOT_DATE) <= F.lit(day))
    latest = items.agg(F.max(S.SNAPSHOT_DATE)).first()[0]  # type: ignore[index]
    if latest is None:
        raise InputError(f"silver.items: no catalog snapshot on or before {day}")
    return items.where(F.col(S.SNAPSHOT_DATE) == F.lit(latest))


def read_index(lake: Lake, day: dt.date) -> Index:
    """The index tables of ``day``; InputError when search_index has not run for it."""
    stats = lake.read("gold.search_field_stats").where(F.col(S.AS_OF_DATE) == F.lit(day))
    if not stats.take(1):
        raise InputError(f"gold.search_field_stats: no index for {day}; run search_index first")
    postings, terms = (
        lake.read(n).where(F.col(S.AS_OF_DATE) == F.lit(day)) for n in INDEX_TABLES[:2]
    )
    return Index(postings=postings, terms=terms, stats=stats)


@dataclass(frozen=True)
class Windows:
    """The cut points of a run's evaluation protocol (naive datetimes: session time zone)."""

    validation_start: dt.datetime
    test_start: dt.datetime
    test_days: int
    validation_days: int


def windows(day: dt.date, *, test_days: int, validation_days: int) -> Windows:
    """Test = the last ``test_days`` ending with ``day``; validation = the days before.

    With D = ``day``, T = ``test_days``, V = ``validation_days``::

        ... train ... | validation (V days) | test (T days, ending with D)
    """
    if test_days < 1 or validation_days < 1:
        raise ValueError(
            f"test_days and validation_days must be >= 1, got {test_days} and {validation_days}"
        )
    test_start = dt.datetime.combine(day - dt.timedelta(days=test_days - 1), dt.time())
    return Windows(
        validation_start=test_start - dt.timedelta(days=validation_days),
        test_start=test_start,
        test_days=test_days,
        validation_days=validation_days,
    )
