from __future__ import annotations

import datetime as dt

from pyspark.sql import Row, SparkSession
from pyspark.testing import assertDataFrameEqual

from shoprec import schemas as S
from shoprec.features.sequences import user_sequences
from tests.features.data import columns, ev, events_df, schema_columns

D = dt.date(2026, 11, 10)


def t(minute: int) -> dt.datetime:
    return dt.datetime(2026, 11, 10, 12, minute)


EVENTS = [
    ev("e02", "view", "u1", "A", t(2)),  # listed out of order on purpose
    ev("e01", "view", "u1", "A", t(1)),
    ev("e03", "view", "u1", "B", t(3)),
    ev("e04", "view", "u1", "A", t(4)),  # not a repeat: B came between
    ev("e05", "search", "u1", None, t(5)),  # not an item event
    ev("e06", "view", "u1", "A", t(6)),  # repeat of e04 (the search does not count)
    ev("e07", "add_to_cart", "u1", "A", t(7), quantity=1),
    ev("e08", "view", "u1", "A", t(8)),  # after a cart: kept
    ev("e10", "view", "u1", "C", t(9)),  # same time: event_id orders
    ev("e09", "view", "u1", "D", t(9)),
    ev("e11", "view", "u1", "E", dt.datetime(2026, 11, 11)),  # after D
    ev("f01", "purchase", "u2", "B", t(1), quantity=1),
]


def test_sequences_ordered_and_collapsed(spark: SparkSession) -> None:
    out = user_sequences(events_df(spark, EVENTS), as_of=D)
    assert columns(out) == schema_columns(S.USER_SEQUENCES)
    assertDataFrameEqual(
        out,
        [
            Row(
                user_id="u1",
                item_ids=["A", "B", "A", "A", "A", "D", "C"],
                event_types=["view", "view", "view", "add_to_cart", "view", "view", "view"],
                event_ts=[t(1), t(3), t(4), t(7), t(8), t(9), t(9)],
                as_of_date=D,
            ),
            Row(
                user_id="u2",
                item_ids=["B"],
                event_types=["purchase"],
                event_ts=[t(1)],
                as_of_date=D,
            ),
        ],
    )


def test_max_len_keeps_the_latest(spark: SparkSession) -> None:
    out = user_sequences(events_df(spark, EVENTS), as_of=D, max_len=3).where("user_id = 'u1'")
    row = out.first()
    assert row is not None
    assert row["item_ids"] == ["A", "D", "C"]
    assert row["event_ts"] == [t(8), t(9), t(9)]
