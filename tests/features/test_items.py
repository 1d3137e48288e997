from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.features.items import item_features, title_tokens
from tests.features.data import columns, ev, events_df, schema_columns

D = dt.date(2026, 11, 30)
WEIGHTS = {"view": 1.0, "add_to_cart": 3.0, "purchase": 5.0}
ITEM_SCHEMA = "item_id string, title string, category_path string, brand string, price double"


def snapshot(spark: SparkSession, rows: list[tuple[str, str, str, float | None]]) -> DataFrame:
    return (
        spark.createDataFrame(
            [(i, title, path, "brand", p) for i, title, path, p in rows], ITEM_SCHEMA
        )
        .withColumn(S.AVAILABLE, F.lit(True))
        .withColumn(S.ADDED_DATE, F.lit(dt.date(2026, 1, 1)))
    )


def test_title_tokens_mix_cjk_and_latin(spark: SparkSession) -> None:
    titles = [
        "iPhone 15 保护壳",
        "Nike Air-Max 90, Men's",
        "小米Redmi手机",
        "鞋 XL",
        "カメラ",
        "",
    ]
    df = spark.createDataFrame([(i, s) for i, s in enumerate(titles)], "n int, title string")
    got = [r[0] for r in df.orderBy("n").select(title_tokens(F.col("title"))).collect()]
    assert got == [
        ["iphone", "15", "保护", "护壳"],
        ["nike", "air", "max", "90", "men", "s"],
        ["小米", "redmi", "手机"],
        ["鞋", "xl"],
        ["カメ", "メラ"],
        [],
    ]


def test_price_bands_within_top_category(spark: SparkSession) -> None:
    rows: list[tuple[str, str, str, float | None]] = [
        (f"a{p:02d}", "t", "home/kitchen", float(p)) for p in range(1, 11)
    ]
    rows += [
        ("b1", "t", "toys", 100.0),  # alone in its category
        ("b2", "t", "toys/lego", None),  # no price, no band
        ("c1", "t", "garden", 5.0),  # ties share a band
        ("c2", "t", "garden", 5.0),
        ("c3", "t", "garden", 9.0),
    ]
    events = events_df(spark, [])
    out = item_features(snapshot(spark, rows), events, as_of=D, weights=WEIGHTS, half_life_days=7)
    got = {r[S.ITEM_ID]: (r["category_l1"], r["price_band"]) for r in out.collect()}
    assert [got[f"a{p:02d}"] for p in range(1, 11)] == [
        ("home", b) for b in (1, 1, 2, 2, 3, 3, 4, 4, 5, 5)
    ]
    assert got["b1"] == ("toys", 1) and got["b2"] == ("toys", None)
    assert [got[c][1] for c in ("c1", "c2", "c3")] == [1, 1, 5]


def test_engagement_statistics(spark: SparkSession) -> None:
    at = dt.datetime
    events = events_df(
        spark,
        [
            ev("e1", "view", "u1", "i1", at(2026, 11, 30)),  # end of D is 12-01: age 1
            ev("e2", "add_to_cart", "u1", "i1", at(2026, 11, 30), quantity=1),
            ev("e3", "purchase", "u1", "i1", at(2026, 11, 30), quantity=1),
            ev("e4", "view", "u2", "i1", at(2026, 11, 29)),  # age 2
            ev("e5", "view", "u3", "i1", at(2026, 11, 20)),  # age 11, before the trend week
            ev("e6", "view", "u3", "i1", at(2026, 11, 10)),  # age 21
            ev("e7", "view", "u3", "i1", at(2026, 10, 1)),  # age 61, older than 5 weeks
            ev("e8", "view", "u3", "gone", at(2026, 11, 30)),  # not in the snapshot
            ev("e9", "view", "u3", "i1", at(2026, 12, 1)),  # after D: ignored
        ],
    )
    items = snapshot(spark, [("i1", "t", "a/b", 1.0), ("i2", "t", "a", 2.0)])
    out = item_features(items, events, as_of=D, weights=WEIGHTS, half_life_days=1.0)
    assert columns(out) == schema_columns(S.ITEM_FEATURES)
    rows = {r[S.ITEM_ID]: r for r in out.collect()}
    assert set(rows) == {"i1", "i2"}
    i1, i2 = rows["i1"], rows["i2"]
    assert (i1["views"], i1["carts"], i1["purchases"]) == (5, 1, 1)
    # u1: (1 + 3 + 5) * 0.5; u2: 0.25; u3: 0.5 ** 11 + 0.5 ** 21 + 0.5 ** 61.
    assert i1["popularity"] == pytest.approx(4.5 + 0.25 + 0.5**11 + 0.5**21 + 0.5**61)
    # 4 events in the last 7 days, 2 in the 28 before: (4 + 1) / (2 / 4 + 1).
    assert i1["trend"] == pytest.approx(5 / 1.5)
    assert i1["conversion_rate"] == pytest.approx((1 + 1) / (5 + 10))
    assert i1["as_of_date"] == D
    assert (i2["views"], i2["carts"], i2["purchases"], i2["popularity"]) == (0, 0, 0, 0.0)
    assert (i2["trend"], i2["conversion_rate"]) == (1.0, pytest.approx(0.1))
