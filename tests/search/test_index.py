from __future__ import annotations

import datetime as dt
import math

import pytest
from pyspark.sql import SparkSession

from shoprec.search.index import bm25_scores, build_index, top_by_bm25

D = dt.date(2026, 11, 5)
ITEMS = "item_id string, title string, description string, category_path string, brand string"


def corpus(spark: SparkSession):  # type: ignore[no-untyped-def]
    rows = [
        ("d1", "Red phone", "a phone", "electronics/phones", "Acme"),
        ("d2", "red RED case", None, "electronics/phone_cases", "Red"),
        ("d3", "blue phone case", "", "electronics/phone_cases", None),
    ]
    return build_index(spark.createDataFrame(rows, ITEMS), as_of=D)


def query(spark: SparkSession, terms: list[tuple[str, float]]):  # type: ignore[no-untyped-def]
    return spark.createDataFrame(
        [("q", t, w) for t, w in terms], "query_norm string, term string, qweight double"
    )


def test_index_tables(spark: SparkSession) -> None:
    idx = corpus(spark)
    stats = {r["field"]: r for r in idx["gold.search_field_stats"].collect()}
    assert stats["title"]["n_docs"] == 3 and stats["title"]["avg_len"] == pytest.approx(8 / 3)
    assert stats["brand"]["avg_len"] == pytest.approx(2 / 3)  # a null brand has length 0
    post = {
        (r["field"], r["term"], r["item_id"]): (r["tf"], r["doc_len"])
        for r in idx["gold.search_postings"].collect()
    }
    assert post[("title", "red", "d2")] == (2, 3)
    assert post[("category", "cases", "d3")] == (1, 3)  # "phone_cases" -> phone, cases
    terms = {(r["field"], r["term"]): r for r in idx["gold.search_terms"].collect()}
    assert terms[("title", "red")]["df"] == 2
    assert terms[("title", "red")]["idf"] == pytest.approx(math.log(1 + 1.5 / 2.5))


def test_bm25_matches_a_hand_computed_three_document_case(spark: SparkSession) -> None:
    idx = corpus(spark)
    scores = bm25_scores(
        query(spark, [("red", 1.0)]),
        idx["gold.search_postings"],
        idx["gold.search_terms"],
        idx["gold.search_field_stats"],
        field_weights={"title": 1.0},
        k1=1.2,
        b=0.75,
    )
    got = {r["item_id"]: r["bm25"] for r in scores.collect()}
    idf = math.log(1.6)  # N=3, df=2
    # d1: tf 1, |d| 2, avg 8/3 -> K = 1.2 (0.25 + 0.75 * 0.75) = 0.975
    # d2: tf 2, |d| 3       -> K = 1.2 (0.25 + 0.75 * 1.125) = 1.3125
    assert got == pytest.approx({"d1": idf * 2.2 / 1.975, "d2": idf * 4.4 / 3.3125})


def test_fields_are_weighted_and_summed(spark: SparkSession) -> None:
    idx = corpus(spark)
    weights = {"title": 3.0, "category": 1.5, "brand": 1.5, "description": 1.0}
    scores = bm25_scores(
        query(spark, [("red", 1.0), ("phone", 0.5)]),
        idx["gold.search_postings"],
        idx["gold.search_terms"],
        idx["gold.search_field_stats"],
        field_weights=weights,
        k1=1.2,
        b=0.75,
    )
    rows = {r["item_id"]: r for r in scores.collect()}
    for r in rows.values():
        total = sum(w * r[f"bm25_{f}"] for f, w in weights.items())
        assert r["bm25"] == pytest.approx(total)
    assert rows["d2"]["bm25_brand"] > 0 and rows["d1"]["bm25_brand"] == 0
    # "phone" at half weight: d1's title score is red's plus half of phone's
    assert rows["d1"]["bm25_description"] > 0 and rows["d3"]["bm25_description"] == 0
    top = top_by_bm25(scores, n=2).orderBy("bm25_rank").collect()
    assert [r["bm25_rank"] for r in top] == [1, 2]
    assert top[0]["bm25"] >= top[1]["bm25"]
    assert top[0]["item_id"] == max(rows, key=lambda i: rows[i]["bm25"])
