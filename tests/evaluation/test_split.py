from __future__ import annotations

import datetime as dt
from functools import reduce
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.evaluation import split as SP
from tests.evaluation.frames import frame

UTC = dt.UTC
CUTOFF = dt.datetime(2026, 11, 1)  # naive: the session time zone, UTC


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


# cutoff 2026-11-01 00:00, test window 2 days: [11-01 00:00, 11-03 00:00)
EVENTS = [
    ("e1", "u1", "a", S.VIEW, at(2026, 10, 31, 23, 59, 59, 999999)),  # train: just before
    ("e2", "u1", "b", S.VIEW, at(2026, 11, 1)),  # test: exactly at the cutoff
    ("e3", "u1", "a", S.PURCHASE, at(2026, 11, 2, 23, 59, 59)),  # test: last second
    ("e4", "u2", "c", S.VIEW, at(2026, 11, 3)),  # neither: the window's end is open
    ("e5", "u3", "d", S.PURCHASE, at(2026, 11, 1, 12)),  # test: cold user, new item
    ("e6", "u1", None, S.SEARCH, at(2026, 11, 1, 13)),  # test: no item
    ("e7", "u2", "c", S.VIEW, at(2026, 10, 30)),  # train
    ("e8", "u4", "a", S.VIEW, at(2026, 11, 1, 8)),  # test: cold user, seen item
]


@pytest.fixture(scope="module")
def split(spark: SparkSession) -> SP.Split:
    events = frame(
        spark,
        EVENTS,
        f"{S.EVENT_ID} string, {S.USER_ID} string, {S.ITEM_ID} string, "
        f"{S.EVENT_TYPE} string, {S.EVENT_TS} timestamp",
    )
    return SP.time_split(events, cutoff=CUTOFF, test_days=2)


def collect_sets(frames: dict[str, DataFrame], *cols: str) -> dict[str, set[tuple[Any, ...]]]:
    """The ``cols`` tuples of several frames, in one Spark job."""
    tagged = [df.select(*cols, F.lit(name).alias("_f")) for name, df in frames.items()]
    out: dict[str, set[tuple[Any, ...]]] = {name: set() for name in frames}
    for r in reduce(DataFrame.unionByName, tagged).collect():
        out[r["_f"]].add(tuple(r[c] for c in cols))
    return out


def pairs_of(frames: dict[str, DataFrame]) -> dict[str, set[tuple[Any, ...]]]:
    return collect_sets(frames, S.USER_ID, S.ITEM_ID)


def test_time_split_boundaries(spark: SparkSession, split: SP.Split) -> None:
    assert split.test.columns == [S.EVENT_ID, S.USER_ID, S.ITEM_ID, S.EVENT_TYPE, S.EVENT_TS]
    # an aware cutoff at the same instant splits the same way
    aware = SP.time_split(
        frame(
            spark,
            EVENTS,
            ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in split.test.schema),
        ),
        cutoff=dt.datetime(2026, 11, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        test_days=2,
    )
    got = collect_sets(
        {
            "train": split.train,
            "test": split.test,
            "aware_train": aware.train,
            "aware_test": aware.test,
        },
        S.EVENT_ID,
    )
    ids = {name: {t[0] for t in rows} for name, rows in got.items()}
    assert ids["train"] == ids["aware_train"] == {"e1", "e7"}
    assert ids["test"] == ids["aware_test"] == {"e2", "e3", "e5", "e6", "e8"}
    with pytest.raises(ValueError):
        SP.time_split(split.test, cutoff=CUTOFF, test_days=0)


def test_truth_from_test(split: SP.Split) -> None:
    # test pairs: u1 b, u1 a, u3 d, u4 a (e6 has no item); u1 had a in train.
    truths = pairs_of(
        {
            "default": SP.truth_from_test(split.test, train=split.train),
            "keep_seen": SP.truth_from_test(
                split.test, train=split.train, exclude_train_items=False
            ),
            "no_train": SP.truth_from_test(split.test),
            "purchases": SP.truth_from_test(
                split.test, train=split.train, event_types=[S.PURCHASE]
            ),
        }
    )
    # u4 keeps a: only u1 had it in train
    assert truths["default"] == {("u1", "b"), ("u3", "d"), ("u4", "a")}
    assert truths["keep_seen"] == {("u1", "a"), ("u1", "b"), ("u3", "d"), ("u4", "a")}
    assert truths["no_train"] == truths["keep_seen"]
    assert truths["purchases"] == {("u3", "d")}  # u1's purchase of a was seen in train


def test_segments(split: SP.Split) -> None:
    labels = collect_sets(
        {
            "users": SP.segment_users(split).withColumnRenamed(S.USER_ID, "key"),
            "items": SP.segment_items(split).withColumnRenamed(S.ITEM_ID, "key"),
        },
        "key",
        SP.SEGMENT,
    )
    assert labels["users"] == {("u1", SP.WARM_USERS), ("u3", SP.COLD_USERS), ("u4", SP.COLD_USERS)}
    assert labels["items"] == {("a", SP.SEEN_ITEMS), ("b", SP.NEW_ITEMS), ("d", SP.NEW_ITEMS)}

    seg = SP.segment_truth(SP.truth_from_test(split.test, train=split.train), split)
    assert pairs_of(seg) == {
        SP.ALL: {("u1", "b"), ("u3", "d"), ("u4", "a")},
        SP.WARM_USERS: {("u1", "b")},
        SP.COLD_USERS: {("u3", "d"), ("u4", "a")},
        SP.NEW_ITEMS: {("u1", "b"), ("u3", "d")},  # nobody had b or d in train
    }


def test_leave_one_out(spark: SparkSession) -> None:
    seqs = frame(
        spark,
        [
            ("u1", ["a", "b", "c"], [S.VIEW, S.VIEW, S.PURCHASE], 1),
            ("u2", ["x"], [S.VIEW], 2),  # one item: train only
            ("u3", [], [], 3),  # nothing
            ("u4", ["a", "b", "a"], [S.VIEW, S.VIEW, S.VIEW], 4),  # the test item recurs
        ],
        "uid string, items array<string>, types array<string>, other int",
    )
    s = SP.leave_one_out(seqs, user_col="uid", items_col="items", aligned_cols=["types"])
    assert s.train.columns == s.test.columns == [S.USER_ID, S.ITEM_ID, S.POSITION]
    got = collect_sets({"test": s.test, "train": s.train}, *s.test.columns)
    assert got["test"] == {("u1", "c", 2), ("u4", "a", 2)}
    assert got["train"] == {
        ("u1", "a", 0),
        ("u1", "b", 1),
        ("u2", "x", 0),
        ("u4", "a", 0),
        ("u4", "b", 1),
    }
    assert s.train_sequences is not None
    rows = {r[S.USER_ID]: (r["items"], r["types"], r["other"]) for r in s.train_sequences.collect()}
    assert rows == {
        "u1": (["a", "b"], [S.VIEW, S.VIEW], 1),
        "u2": (["x"], [S.VIEW], 2),
        "u4": (["a", "b"], [S.VIEW, S.VIEW], 4),
    }
    # the same segment helpers work: u1, u4 warm; the held-out items were all seen
    users = {r[S.USER_ID]: r[SP.SEGMENT] for r in SP.segment_users(s).collect()}
    assert users == {"u1": SP.WARM_USERS, "u4": SP.WARM_USERS}


def test_holdout_keeps_back_a_share_of_each_users_items(spark: SparkSession) -> None:
    # user 0: 10 items, user 1: 3 items (with times), user 2: one item (keeps it)
    rows = [(0, i, 1.0, i) for i in range(10)] + [(1, 20 + i, 1.0, i) for i in range(3)]
    rows.append((2, 5, 1.0, 0))
    train = spark.createDataFrame(
        rows, f"{S.USER_IDX} long, {S.ITEM_IDX} long, {S.WEIGHT} double, {S.LAST_TS} long"
    )
    fit, held = SP.holdout(train, share=0.2, seed=3)
    held_rows = sorted(tuple(r) for r in held.collect())
    assert held.columns == [S.USER_IDX, S.ITEM_IDX] and fit.columns == train.columns
    # by time: each user's latest items, floor(n * share) of them but at least one
    assert held_rows == [(0, 8), (0, 9), (1, 22)]
    assert fit.count() + len(held_rows) == train.count()
    assert not {(r[0], r[1]) for r in fit.collect()} & set(held_rows)
    # without times: a seeded random choice, the same for the same seed
    untimed = train.drop(S.LAST_TS)
    first = sorted(tuple(r) for r in SP.holdout(untimed, share=0.2, seed=3)[1].collect())
    again = sorted(tuple(r) for r in SP.holdout(untimed, share=0.2, seed=3)[1].collect())
    assert first == again and [u for u, _ in first] == [0, 0, 1]
    with pytest.raises(ValueError, match="share"):
        SP.holdout(train, share=1.0, seed=3)
