from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession

from shoprec import schemas as S
from shoprec.serving.rerank import (
    add_reasons,
    apply_filters,
    boost_new_arrivals,
    cap_per_group,
    diversify,
)

AS_OF = dt.date(2026, 11, 10)
ITEMS = [
    # item, path, l1, brand, available, added
    ("i1", "grocery/milk/whole", "grocery", "farm", True, dt.date(2026, 1, 1)),
    ("i2", "electronics/phones/smart", "electronics", "zed", True, dt.date(2026, 1, 1)),
    ("i3", "electronics/phones/smart", "electronics", "zed", True, dt.date(2026, 11, 8)),
    ("i4", "electronics/tv/oled", "electronics", "zed", False, dt.date(2026, 1, 1)),
    ("i5", "adult/misc/x", "adult", "acme", True, dt.date(2026, 1, 1)),
    ("i6", "fashion/shoes/run", "fashion", "acme", True, dt.date(2026, 1, 1)),
]


def items(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        ITEMS,
        "item_id string, category_path string, category_l1 string, brand string, available boolean, added_date date",
    )


def cands(spark: SparkSession, scores: dict[str, float], user: str = "u1") -> DataFrame:
    return spark.createDataFrame(
        [(user, i, s) for i, s in scores.items()], "user_id string, item_id string, score double"
    )


def ids(df: DataFrame) -> list[str]:
    return [r[S.ITEM_ID] for r in df.orderBy(df[S.SCORE].desc(), S.ITEM_ID).collect()]


def test_filters(spark: SparkSession) -> None:
    purchased = spark.createDataFrame(
        [("u1", "i1"), ("u1", "i2")], "user_id string, item_id string"
    )
    out = apply_filters(
        cands(spark, {f"i{n}": 10.0 - n for n in range(1, 8)}),
        items(spark),
        purchased,
        repeat_purchase_categories=["grocery"],
        blocked_categories=["adult"],
    )
    # i1 bought but a repeat category; i2 bought; i4 unavailable; i5 blocked; i7 unknown
    assert ids(out) == ["i1", "i3", "i6"]


def test_new_arrival_boost_and_brand_cap(spark: SparkSession) -> None:
    base = apply_filters(
        cands(spark, {"i2": 1.0, "i3": 0.95, "i6": 0.5}),
        items(spark),
        spark.createDataFrame([], "user_id string, item_id string"),
        repeat_purchase_categories=[],
        blocked_categories=[],
    )
    boosted = boost_new_arrivals(base, as_of=AS_OF, days=14, boost=0.1)
    assert ids(boosted) == ["i3", "i2", "i6"]  # 0.95 * 1.1 > 1.0
    assert ids(cap_per_group(boosted, column=S.BRAND, max_per_group=1)) == ["i3", "i6"]


def test_diversify_cap_and_mmr(spark: SparkSession) -> None:
    rows = cands(spark, {"i2": 1.0, "i3": 0.9, "i6": 0.5, "i1": 0.4})
    base = apply_filters(
        rows,
        items(spark),
        spark.createDataFrame([], "user_id string, item_id string"),
        repeat_purchase_categories=[],
        blocked_categories=[],
    )
    capped = diversify(base, method="category_cap", k=3, max_per_category=1, mmr_lambda=0.5)
    assert [r[S.ITEM_ID] for r in capped.orderBy(S.RANK).collect()] == ["i2", "i6", "i1"]
    mmr = diversify(base, method="mmr", k=3, mmr_lambda=0.5, max_per_category=99)
    # after i2, a second electronics item loses to the other categories
    assert [r[S.ITEM_ID] for r in mmr.orderBy(S.RANK).collect()] == ["i2", "i6", "i1"]
    pure = diversify(base, method="mmr", k=3, mmr_lambda=1.0, max_per_category=99)
    assert [r[S.ITEM_ID] for r in pure.orderBy(S.RANK).collect()] == ["i2", "i3", "i6"]


def test_reasons(spark: SparkSession) -> None:
    recs = spark.createDataFrame(
        [
            ("u1", "i2", 1.0, "electronics", False),
            ("u1", "i6", 0.5, "fashion", False),
            ("u1", "i3", 0.4, "electronics", True),
        ],
        "user_id string, item_id string, score double, category_l1 string, _new_arrival boolean",
    )
    recent = spark.createDataFrame([("u1", "i1")], "user_id string, item_id string")
    co = spark.createDataFrame([("i1", "i2", 3, 1, 1, 0.9, AS_OF)], S.ITEM_COOCCURRENCE)
    titles = spark.createDataFrame([("i1", "Whole milk")], "item_id string, title string")
    out = {r[S.ITEM_ID]: r["reason"] for r in add_reasons(recs, recent, co, titles).collect()}
    assert out == {
        "i2": "often bought with Whole milk",
        "i6": "matches your interest in fashion",
        "i3": "new arrival in electronics",
    }
