from __future__ import annotations

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.testing import assertDataFrameEqual

from shoprec.serving.lists import fill_with_popular, popular_items, similar_items

ITEMS = [
    # item, l1, available, popularity
    ("a", "grocery", True, 5.0),
    ("b", "grocery", True, 3.0),
    ("c", "toys", True, 4.0),
    ("d", "toys", False, 9.0),  # unavailable: never listed
    ("e", None, True, 2.0),  # no category: only among the shop's popular items
    ("f", "toys", True, 0.0),  # never touched: not popular
]
LISTS = "user_id string, item_id string, score double, rank int, reason string"


def items(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        ITEMS, "item_id string, category_l1 string, available boolean, popularity double"
    )


def test_popular_items_overall_and_per_category(spark: SparkSession) -> None:
    got = popular_items(items(spark), k=2, run_id="r1")
    assertDataFrameEqual(
        got,
        [
            Row(category="all", rank=1, item_id="a", score=5.0, run_id="r1"),
            Row(category="all", rank=2, item_id="c", score=4.0, run_id="r1"),
            Row(category="grocery", rank=1, item_id="a", score=5.0, run_id="r1"),
            Row(category="grocery", rank=2, item_id="b", score=3.0, run_id="r1"),
            Row(category="toys", rank=1, item_id="c", score=4.0, run_id="r1"),
        ],
    )


def test_fill_with_popular_tops_up_without_repeats_or_purchases(spark: SparkSession) -> None:
    popular = popular_items(items(spark), k=10, run_id="r1")  # all: a, c, b, e
    lists = spark.createDataFrame(
        [("u1", "c", 0.9, 1, "model"), ("u2", "a", 0.8, 1, "model")], LISTS
    )
    purchased = spark.createDataFrame([("u1", "a")], "user_id string, item_id string")
    got = fill_with_popular(lists, popular, items(spark), purchased, k=3)
    assertDataFrameEqual(
        got,
        [
            # u1 bought a, and c is already in the list: b and e top it up
            Row(user_id="u1", item_id="c", score=0.9, rank=1, reason="model"),
            Row(user_id="u1", item_id="b", score=0.0, rank=2, reason="popular in grocery"),
            Row(user_id="u1", item_id="e", score=0.0, rank=3, reason="popular in the shop"),
            Row(user_id="u2", item_id="a", score=0.8, rank=1, reason="model"),
            Row(user_id="u2", item_id="c", score=0.0, rank=2, reason="popular in toys"),
            Row(user_id="u2", item_id="b", score=0.0, rank=3, reason="popular in grocery"),
        ],
    )


def test_similar_items_are_available_and_say_why(spark: SparkSession) -> None:
    cooc = spark.createDataFrame(
        [
            ("a", "b", 3, 0, 1, 0.9),
            ("a", "c", 2, 1, 0, 0.5),
            ("a", "d", 9, 9, 9, 2.0),  # unavailable
            ("a", "e", 1, 0, 0, 0.1),  # below the top 2
            ("b", "a", 3, 0, 1, 0.9),
        ],
        "item_id string, similar_item_id string, co_view long, co_cart long, "
        "co_purchase long, score double",
    )
    got = similar_items(cooc, items(spark), k=2, version="v1", run_id="r1")
    common = {"model_version": "v1", "run_id": "r1"}
    assertDataFrameEqual(
        got,
        [
            Row(
                item_id="a",
                rank=1,
                similar_item_id="b",
                score=0.9,
                reason="often bought together",
                **common,
            ),
            Row(
                item_id="a",
                rank=2,
                similar_item_id="c",
                score=0.5,
                reason="often in the same cart",
                **common,
            ),
            Row(
                item_id="b",
                rank=1,
                similar_item_id="a",
                score=0.9,
                reason="often bought together",
                **common,
            ),
        ],
    )
