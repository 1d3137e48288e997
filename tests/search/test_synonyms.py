from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession

from shoprec.search.synonyms import expand_query_terms, learn_rewrites

D = dt.date(2026, 11, 5)


def test_spelling_variants_and_synonyms_from_shared_clicks(spark: SparkSession) -> None:
    clicks = spark.createDataFrame(
        [
            ("sneakers", "a", 10), ("sneakers", "b", 5),
            ("trainers", "a", 4), ("trainers", "b", 3),
            ("sneakrs", "a", 3), ("sneakrs", "b", 1),
            ("phone case", "c", 9), ("phone cases", "c", 1),  # too few shared clicks
            ("boots", "a", 1), ("boots", "d", 20),  # shares an item, not its clicks
        ],
        "query_norm string, item_id string, clicks long",
    )  # fmt: skip
    rw = learn_rewrites(
        clicks,
        as_of=D,
        min_similarity=0.5,
        min_shared_clicks=3,
        max_per_query=3,
        max_edit_distance=2,
    )
    got = {(r["query_norm"], r["related_query"]): r["relation"] for r in rw.collect()}
    assert got[("sneakrs", "sneakers")] == "spelling"
    assert ("sneakers", "sneakrs") not in got  # a typo is never the canonical form
    assert got[("trainers", "sneakers")] == "synonym"
    assert got[("sneakers", "trainers")] == "synonym"
    assert not any("boots" in pair or "phone case" in pair for pair in got)

    terms = expand_query_terms(
        spark.createDataFrame([("trainers",), ("sneakrs",)], "query_norm string"),
        rw,
        synonym_weight=0.5,
    )
    w = {(r["query_norm"], r["term"]): r["qweight"] for r in terms.collect()}
    assert w[("trainers", "trainers")] == 1.0
    assert 0 < w[("trainers", "sneakers")] <= 0.5  # a synonym at half its similarity
    assert w[("sneakrs", "sneakers")] > 0.9  # the spelling fix at its similarity
