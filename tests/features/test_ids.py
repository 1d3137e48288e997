from __future__ import annotations

import datetime as dt

from pyspark.sql import Row, SparkSession
from pyspark.testing import assertDataFrameEqual

from shoprec import schemas as S
from shoprec.features.ids import (
    assign_ids,
    edges,
    from_idx,
    model_input,
    n_items,
    new_id_rows,
    to_idx,
)
from tests.features.data import columns, schema_columns

N1 = dt.date(2026, 11, 1)
N2 = dt.date(2026, 11, 2)


def test_ids_are_stable_across_nights(spark: SparkSession) -> None:
    empty = spark.createDataFrame([], S.ID_MAP)
    night1 = assign_ids(
        empty, spark.createDataFrame([("c",), ("a",), ("b",)], "id string"), entity="user", as_of=N1
    )
    assert columns(night1) == schema_columns(S.ID_MAP)
    assertDataFrameEqual(
        night1,
        [
            Row(entity="user", id="a", idx=0, first_seen=N1),
            Row(entity="user", id="b", idx=1, first_seen=N1),
            Row(entity="user", id="c", idx=2, first_seen=N1),
        ],
    )
    # Night 2: the map holds night 1's users and some items with larger indices.
    items = spark.createDataFrame([("item", "x", 10, N1)], S.ID_MAP)
    existing = night1.unionByName(items)
    seen = spark.createDataFrame([("b",), ("e",), ("a",), ("d",), ("e",), (None,)], "id string")
    night2 = assign_ids(existing, seen, entity="user", as_of=N2).collect()
    assert night2 == [
        Row(entity="user", id="d", idx=3, first_seen=N2),
        Row(entity="user", id="e", idx=4, first_seen=N2),
    ]
    # A rerun of night 2, on the same ids differently partitioned, appends the same rows.
    rerun = assign_ids(existing, seen.repartition(3), entity="user", as_of=N2)
    assertDataFrameEqual(rerun, night2, checkRowOrder=True)


def test_new_id_rows_and_edges(spark: SparkSession) -> None:
    inter = spark.createDataFrame(
        [
            ("u1", "i1", 2.0, N2),
            ("u2", "i1", 1.0, N2),
            ("u2", "i2", 0.5, N2),
            ("u9", "i2", 1.0, N2),
        ],
        "user_id string, item_id string, weight double, as_of_date date",
    )
    existing = spark.createDataFrame([("user", "u2", 0, N1), ("item", "i2", 0, N1)], S.ID_MAP)
    # u9 is left out of the map: its pair must be dropped, not given a null index.
    appended = new_id_rows(existing, inter.where("user_id != 'u9'"), as_of=N2)
    assertDataFrameEqual(
        appended,
        [
            Row(entity="user", id="u1", idx=1, first_seen=N2),
            Row(entity="item", id="i1", idx=1, first_seen=N2),
        ],
    )
    out = edges(inter, existing.unionByName(appended))
    assert columns(out) == schema_columns(S.USER_ITEM_EDGES)
    assertDataFrameEqual(
        out,
        [
            Row(user_idx=1, item_idx=1, weight=2.0, as_of_date=N2),
            Row(user_idx=0, item_idx=1, weight=1.0, as_of_date=N2),
            Row(user_idx=0, item_idx=0, weight=0.5, as_of_date=N2),
        ],
    )


def test_to_idx_and_from_idx_round_trip(spark: SparkSession) -> None:
    id_map = spark.createDataFrame(
        [
            ("user", "u1", 0, N1),
            ("user", "u2", 1, N1),
            ("item", "i1", 0, N1),
            ("item", "i2", 5, N1),
        ],
        S.ID_MAP,
    )
    pairs = spark.createDataFrame(
        [("u1", "i2", 2.0), ("u2", "i1", 1.0), ("u9", "i1", 1.0)],  # u9 is not in the map
        "user_id string, item_id string, weight double",
    )
    indexed = to_idx(pairs, id_map)
    assertDataFrameEqual(
        indexed.select(S.USER_IDX, S.ITEM_IDX, S.WEIGHT),
        [Row(user_idx=0, item_idx=5, weight=2.0), Row(user_idx=1, item_idx=0, weight=1.0)],
    )
    back = from_idx(indexed.drop(S.USER_ID, S.ITEM_ID), id_map)
    assertDataFrameEqual(back.select(*pairs.columns), pairs.where("user_id != 'u9'"))
    assert n_items(id_map) == 6  # the largest item index + 1
    assert n_items(id_map.where("entity = 'user'")) == 0


def test_model_input_carries_last_ts(spark: SparkSession) -> None:
    id_map = spark.createDataFrame([("user", "u1", 3, N1), ("item", "i1", 7, N1)], S.ID_MAP)
    ts = dt.datetime(2026, 11, 1, 12)
    pairs = spark.createDataFrame(
        [("u1", "i1", 1.5, ts)],
        "user_id string, item_id string, weight double, last_event_ts timestamp",
    )
    assertDataFrameEqual(
        model_input(pairs, id_map), [Row(user_idx=3, item_idx=7, weight=1.5, last_ts=ts)]
    )
