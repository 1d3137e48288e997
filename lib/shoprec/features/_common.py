"""Column helpers and filters shared by the gold feature builders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S

SECONDS_PER_DAY = 86_400.0


def end_of_day_epoch(as_of: dt.date) -> float:
    """Seconds since the epoch at the end of ``as_of`` (midnight UTC after it)."""
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC).timestamp()


def age_days(as_of: dt.date) -> Column:
    """Fractional days from ``event_ts`` to the end of ``as_of``, never negative."""
    seconds = F.lit(end_of_day_epoch(as_of)) - F.col(S.EVENT_TS).cast("double")
    return F.greatest(F.lit(0.0), seconds / F.lit(SECONDS_PER_DAY))


def decay(as_of: dt.date, half_life_days: float) -> Column:
    """Exponential time decay ``0.5 ** (age_days / half_life_days)`` of each event."""
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be positive, got {half_life_days}")
    return F.pow(F.lit(0.5), age_days(as_of) / F.lit(float(half_life_days)))


def type_weight(weights: Mapping[str, float]) -> Column:
    """The weight of each event's ``event_type``; types not in ``weights`` weigh 0."""
    weight: Column = F.lit(0.0)
    for event_type, value in weights.items():
        weight = F.when(F.col(S.EVENT_TYPE) == event_type, F.lit(float(value))).otherwise(weight)
    return weight


def is_type(*event_types: str) -> Column:
    """1 where ``event_type`` is one of ``event_types``, else 0 (a long, to sum)."""
    return F.col(S.EVENT_TYPE).isin(*event_types).cast("long")


def up_to(events: DataFrame, as_of: dt.date) -> DataFrame:
    """Events dated on or before ``as_of`` (a guard: callers normally pass only those)."""
    return events.where(F.col(S.EVENT_DATE) <= F.lit(as_of))


def item_events(events: DataFrame, as_of: dt.date) -> DataFrame:
    """Events about one item (no searches), dated on or before ``as_of``."""
    return up_to(events, as_of).where(
        F.col(S.ITEM_ID).isNotNull() & F.col(S.EVENT_TYPE).isin(*S.ITEM_EVENT_TYPES)
    )
