from __future__ import annotations

import datetime as dt
import math

import pytest
from pyspark.sql import Row, SparkSession
from pyspark.testing import assertDataFrameEqual

from shoprec import schemas as S
from shoprec.features.cooccurrence import item_cooccurrence
from tests.features.data import columns, ev, events_df, schema_columns

D = dt.date(2026, 11, 10)


def t(minute: int) -> dt.datetime:
    return dt.datetime(2026, 11, 10, 12, minute)


def both_ways(a: str, b: str, view: int, cart: int, buy: int, score: float) -> list[Row]:
    return [
        Row(
            item_id=x,
            similar_item_id=y,
            co_view=view,
            co_cart=cart,
            co_purchase=buy,
            score=score,
            as_of_date=D,
        )
        for x, y in ((a, b), (b, a))
    ]


SESSIONS = [
    # s1: A and B both viewed, carted and purchased.
    *[
        ev(f"s1{n}{kind}", kind, "u1", item, t(n), session_id="s1")
        for n, kind in enumerate(("view", "add_to_cart", "purchase"))
        for item in ("A", "B")
    ],
    # s2: A and C both viewed.
    ev("s2a", "view", "u2", "A", t(1), session_id="s2"),
    ev("s2c", "view", "u2", "C", t(2), session_id="s2"),
    # s3: B viewed, C only carted: no shared signal; a search click is no signal.
    ev("s3b", "view", "u3", "B", t(1), session_id="s3"),
    ev("s3c", "add_to_cart", "u3", "C", t(2), session_id="s3"),
    ev("s3x", "search_click", "u3", "A", t(3), session_id="s3"),
]


def test_counts_symmetry_and_score(spark: SparkSession) -> None:
    out = item_cooccurrence(events_df(spark, SESSIONS), as_of=D)
    assert columns(out) == schema_columns(S.ITEM_COOCCURRENCE)
    # Every item is in 2 sessions: score = weighted / sqrt(2 * 2).
    assertDataFrameEqual(
        out,
        both_ways("A", "B", 1, 1, 1, (1 + 3 + 5) / 2) + both_ways("A", "C", 1, 0, 0, 1 / 2),
    )


def test_min_count(spark: SparkSession) -> None:
    s4 = [
        ev("s4a", "view", "u4", "A", t(1), session_id="s4"),
        ev("s4c", "view", "u4", "C", t(2), session_id="s4"),
    ]
    out = item_cooccurrence(events_df(spark, SESSIONS + s4), as_of=D, min_count=2)
    # A and C now share 2 sessions of the 3 each is in; A-B shares only 1.
    assertDataFrameEqual(out, both_ways("A", "C", 2, 0, 0, 2 / math.sqrt(3 * 3)))


def test_cap_keeps_last_distinct_items(spark: SparkSession) -> None:
    events = events_df(
        spark,
        [
            ev("e1", "view", "u1", "X1", t(1)),
            ev("e2", "view", "u1", "X2", t(2)),
            ev("e3", "view", "u1", "X3", t(3)),
            ev("e4", "view", "u1", "X1", t(4)),  # X1 is the latest again
        ],
    )
    out = item_cooccurrence(events, as_of=D, max_items_per_session=2)
    assertDataFrameEqual(out, both_ways("X1", "X3", 1, 0, 0, 1.0))
    uncapped = item_cooccurrence(events, as_of=D)
    assert uncapped.count() == 6  # 3 items: 3 pairs, both ways


def test_weights_and_validation(spark: SparkSession) -> None:
    events = events_df(spark, SESSIONS)
    row = (
        item_cooccurrence(events, as_of=D, weights={"co_purchase": 1.0})
        .where("item_id = 'A' and similar_item_id = 'B'")
        .first()
    )
    assert row is not None and row[S.SCORE] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown"):
        item_cooccurrence(events, as_of=D, weights={"co_click": 1.0})
