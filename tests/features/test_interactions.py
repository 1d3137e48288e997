from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Row, SparkSession
from pyspark.testing import assertDataFrameEqual

from shoprec import schemas as S
from shoprec.features.interactions import interactions
from tests.features.data import columns, ev, events_df, schema_columns

D = dt.date(2026, 11, 10)
MIDNIGHT = dt.datetime(2026, 11, 10)  # 1 day before the end of D
DAY_BEFORE = dt.datetime(2026, 11, 9)  # 2 days before the end of D
WEIGHTS = {
    "view": 1.0,
    "add_to_cart": 3.0,
    "remove_from_cart": -3.0,
    "purchase": 5.0,
    "search_click": 2.0,
}


def test_decay_clamp_and_counts(spark: SparkSession) -> None:
    events = events_df(
        spark,
        [
            ev("e1", "view", "u1", "i1", MIDNIGHT),  # 1 * 0.5
            ev("e2", "purchase", "u1", "i1", MIDNIGHT, quantity=1),  # 5 * 0.5
            ev("e3", "add_to_cart", "u1", "i2", DAY_BEFORE, quantity=1),  # 3 * 0.25
            ev("e4", "remove_from_cart", "u1", "i2", MIDNIGHT, quantity=1),  # -3 * 0.5
            ev("e5", "search_click", "u2", "i1", DAY_BEFORE),  # 2 * 0.25
            ev("e6", "search", "u2", None, MIDNIGHT),  # no item: skipped
            ev("e7", "view", "u2", "i3", dt.datetime(2026, 11, 11)),  # after D: ignored
        ],
    )
    out = interactions(events, as_of=D, weights=WEIGHTS, half_life_days=1.0)
    assert columns(out) == schema_columns(S.INTERACTIONS)
    assertDataFrameEqual(
        out,
        [
            Row(
                user_id="u1",
                item_id="i1",
                weight=3.0,
                events=2,
                purchases=1,
                last_event_ts=MIDNIGHT,
                as_of_date=D,
            ),
            Row(
                user_id="u2",
                item_id="i1",
                weight=0.5,
                events=1,
                purchases=0,
                last_event_ts=DAY_BEFORE,
                as_of_date=D,
            ),
        ],
    )


def test_fractional_age_and_half_life(spark: SparkSession) -> None:
    # 18:00 on D is 0.25 days before its end; half-life 2 days -> 0.5 ** 0.125.
    events = events_df(spark, [ev("e1", "view", "u1", "i1", dt.datetime(2026, 11, 10, 18))])
    row = interactions(events, as_of=D, weights={"view": 4.0}, half_life_days=2.0).first()
    assert row is not None
    assert row[S.WEIGHT] == pytest.approx(4.0 * 0.5**0.125)


def test_zero_total_is_dropped(spark: SparkSession) -> None:
    events = events_df(
        spark,
        [
            ev("e1", "add_to_cart", "u1", "i1", MIDNIGHT, quantity=1),
            ev("e2", "remove_from_cart", "u1", "i1", MIDNIGHT, quantity=1),
            ev("e3", "view", "u1", "i2", MIDNIGHT),  # a type without a weight: 0
        ],
    )
    out = interactions(
        events, as_of=D, weights={"add_to_cart": 3, "remove_from_cart": -3}, half_life_days=7
    )
    assert out.collect() == []
