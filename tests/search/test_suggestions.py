from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession

from shoprec.search.suggestions import canonical_queries, head_queries, query_counts, suggestions

D = dt.date(2026, 11, 5)


def test_head_queries_cover_the_share(spark: SparkSession) -> None:
    counts = spark.createDataFrame(
        [("a", 50), ("b", 30), ("c", 15), ("d", 5)], "query_norm string, searches long"
    )
    assert {r[0] for r in head_queries(counts, share=0.9).collect()} == {"a", "b", "c"}
    assert {r[0] for r in head_queries(counts, share=0.8).collect()} == {"a", "b"}
    assert head_queries(counts, share=1.0).count() == 4


def test_typos_count_for_their_canonical_query_and_prefixes_complete(spark: SparkSession) -> None:
    rows = spark.createDataFrame(
        [("s1", "phone"), ("s2", "phone"), ("s3", "phnoe"), ("s4", "phone case"),
         ("s5", "phone case"), ("s6", "手机"), ("s7", "手机"), ("s8", "rare")],
        "search_id string, query_norm string",
    )  # fmt: skip
    rewrites = spark.createDataFrame(
        [("phnoe", "phone", "spelling", 0.9), ("phone case", "phone", "synonym", 0.6)],
        "query_norm string, related_query string, relation string, similarity double",
    )
    counts = query_counts(canonical_queries(rows, rewrites))
    assert {r[0]: r[1] for r in counts.collect()} == {
        "phone": 3,
        "phone case": 2,
        "手机": 2,
        "rare": 1,
    }
    sug = suggestions(counts, per_prefix=5, min_searches=2, max_prefix_chars=20, run_id="r")
    by_prefix: dict[str, list[str]] = {}
    for r in sug.orderBy("prefix", "rank").collect():
        by_prefix.setdefault(r["prefix"], []).append(r["query_norm"])
    assert by_prefix["ph"] == ["phone", "phone case"]
    assert by_prefix["phone"] == ["phone", "phone case"]  # "phone " is trimmed to "phone"
    assert by_prefix["phone c"] == ["phone case"]
    assert by_prefix["手"] == ["手机"]
    assert "r" not in by_prefix  # below min_searches
