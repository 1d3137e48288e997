from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from shoprec.search.features import (
    classify_queries,
    estimate_position_bias,
    expected_examinations,
    query_categories,
    query_item_ctr,
)

D = dt.date(2026, 11, 5)


def test_position_bias_is_recovered_from_items_shown_at_several_positions(
    spark: SparkSession,
) -> None:
    rng = np.random.default_rng(3)
    true_p = {1: 1.0, 2: 0.6, 3: 0.4, 4: 0.3, 5: 0.2}
    rows = []
    for item in range(40):
        rel = float(rng.uniform(0.2, 0.9))
        for pos, p in true_p.items():
            clicks = rng.random(60) < p * rel
            rows += [("q", f"i{item}", pos, int(c)) for c in clicks]
    shown = spark.createDataFrame(
        rows, "query_norm string, item_id string, position int, clicked int"
    )
    est = estimate_position_bias(shown, iterations=10)
    assert est[1] == 1.0
    for pos, p in true_p.items():
        assert est[pos] == pytest.approx(p, abs=0.08)
    # raw CTR would say position 5 is 5x worse; corrected CTRs put every item back
    # at its own relevance whatever position it was shown at
    exams = expected_examinations(shown, est)
    ctr = query_item_ctr(exams, F.lit(0.3), prior_examinations=1e-6)
    got = {r["item_id"]: r["ctr"] for r in ctr.collect()}
    assert all(0 <= v <= 1.2 for v in got.values())


def test_ctr_correction_removes_the_position_advantage(spark: SparkSession) -> None:
    # two equally good items: "top" always at 1 (clicked 50/100), "low" always at 4
    # (clicked 20/100 = 0.4 examination x 0.5)
    rows = [("q", "top", 1, int(i < 50)) for i in range(100)]
    rows += [("q", "low", 4, int(i < 20)) for i in range(100)]
    shown = spark.createDataFrame(
        rows, "query_norm string, item_id string, position int, clicked int"
    )
    exams = expected_examinations(shown, {1: 1.0, 4: 0.4})
    ctr = {
        r["item_id"]: r["ctr"]
        for r in query_item_ctr(exams, F.lit(0.1), prior_examinations=1.0).collect()
    }
    assert ctr["top"] == pytest.approx((50 + 0.1) / 101)
    assert ctr["low"] == pytest.approx((20 + 0.1) / 41)
    assert abs(ctr["top"] - ctr["low"]) < 0.01


def test_queries_are_classified_by_their_clicks_or_their_words(spark: SparkSession) -> None:
    clicks = spark.createDataFrame(
        [("red phone", "p1", 6), ("red phone", "c1", 2), ("phone case", "c1", 8)],
        "query_norm string, item_id string, clicks long",
    )
    items = spark.createDataFrame(
        [("p1", "electronics/phones"), ("c1", "electronics/cases")],
        "item_id string, category_path string",
    )
    cats = query_categories(clicks, items, as_of=D, prior_clicks=2.0)
    qs = spark.createDataFrame([("red phone",), ("phone",), ("lamp",)], "query_norm string")
    got = {
        (r["query_norm"], r["category_path"]): r["probability"]
        for r in classify_queries(qs, cats).collect()
    }
    assert got[("red phone", "electronics/phones")] == pytest.approx(6 / 10)
    assert got[("red phone", "electronics/cases")] == pytest.approx(2 / 10)
    # "phone" was never searched: its word's clicks (6 phones, 10 cases of 16 + 2)
    assert got[("phone", "electronics/cases")] == pytest.approx(10 / 18)
    assert got[("phone", "electronics/phones")] == pytest.approx(6 / 18)
    assert not any(q == "lamp" for q, _ in got)
