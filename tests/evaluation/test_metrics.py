from __future__ import annotations

import datetime as dt
import math
import random

import numpy as np
import pytest
import scipy.sparse as sp
from pyspark.sql import DataFrame, SparkSession

from shoprec import schemas as S
from shoprec.evaluation import metrics as M
from tests.evaluation.frames import frame

TRUTH_SCHEMA = f"{S.USER_ID} string, {S.ITEM_ID} string"
RECS_SCHEMA = f"{S.USER_ID} string, {S.ITEM_ID} string, {S.RANK} int"


def truth_df(spark: SparkSession, pairs: list[tuple[str, str]]) -> DataFrame:
    return frame(spark, pairs, TRUTH_SCHEMA)


def recs_df(spark: SparkSession, lists: dict[str, list[str]]) -> DataFrame:
    rows = [(u, i, r) for u, items in lists.items() for r, i in enumerate(items, start=1)]
    return frame(spark, rows, RECS_SCHEMA)


# The accuracy case, k = 3 (and 4).
#   truth: u1 {a, b, c}   u2 {d}   u3 {e} (no recs)   u4 {f, g}
#   recs:  u1 a x c b     u2 y d z                    u4 a b c g    u5 d (not in truth)
# Top 3 hits: u1 a@1 c@3 (b@4 is beyond k), u2 d@2, u3 none, u4 none (g@4 beyond k).
#   recall@3    = (2/3 + 1/1 + 0 + 0) / 4                                = 0.416667
#   precision@3 = (2/3 + 1/3 + 0 + 0) / 4                                = 0.25
#   ndcg@3: u1 dcg = 1/log2(2) + 1/log2(4) = 1.5,
#           idcg (3 ideal hits) = 1 + 1/log2(3) + 1/log2(4) = 2.130930  -> 0.703918
#           u2 dcg = 1/log2(3) = 0.630930, idcg (1 ideal hit) = 1        -> 0.630930
#           (0.703918 + 0.630930) / 4                                    = 0.333712
#   map@3: u1 (1/1 + 2/3) / min(3, 3) = 0.555556; u2 (1/2) / 1 = 0.5
#          (0.555556 + 0.5) / 4                                          = 0.263889
#   hit_rate@3 = 2 / 4                                                   = 0.5
#   mrr (whole list: u4's g@4 counts) = (1/1 + 1/2 + 0 + 1/4) / 4        = 0.4375
#   mrr@3 = (1 + 1/2) / 4                                                = 0.375
#   recall@4 = (3/3 + 1/1 + 0 + 1/2) / 4                                 = 0.625
HAND = {
    "recall@3": 5 / 12,
    "precision@3": 0.25,
    "ndcg@3": (1.5 / (1 + 1 / math.log2(3) + 0.5) + 1 / math.log2(3)) / 4,
    "map@3": ((1 + 2 / 3) / 3 + 0.5) / 4,
    "hit_rate@3": 0.5,
    "mrr": 0.4375,
    "mrr@3": 0.375,
    "recall@4": 0.625,
}


@pytest.fixture(scope="module")
def case(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    truth = truth_df(
        spark,
        [("u1", "a"), ("u1", "b"), ("u1", "c"), ("u2", "d"), ("u3", "e"), ("u4", "f"), ("u4", "g")],
    )
    recs = recs_df(
        spark,
        {
            "u1": ["a", "x", "c", "b"],
            "u2": ["y", "d", "z"],
            "u4": ["a", "b", "c", "g"],
            "u5": ["d"],
        },
    )
    return truth, recs


def test_ndcg_of_lists_matches_the_spark_definition() -> None:
    # the hand case with items a..g, x, y, z as 0..9 and users u1..u4 as rows 0..3
    item = {name: i for i, name in enumerate("abcdefgxyz")}
    truth_rows = {0: "abc", 1: "d", 2: "e", 3: "fg"}
    truth = sp.lil_matrix((4, 10))
    for row, items in truth_rows.items():
        for name in items:
            truth[row, item[name]] = 1
    lists = {0: "axcb", 1: "ydz", 2: "", 3: "abcg"}
    top = np.full((4, 4), -1)
    for row, names in lists.items():
        top[row, : len(names)] = [item[n] for n in names]
    assert M.ndcg_of_lists(top, truth.tocsr(), 3) == pytest.approx(HAND["ndcg@3"])


def test_single_metrics_match_hand_computation(case: tuple[DataFrame, DataFrame]) -> None:
    truth, recs = case
    assert M.recall_at_k(truth, recs, 3) == pytest.approx(HAND["recall@3"])
    assert M.precision_at_k(truth, recs, 3) == pytest.approx(HAND["precision@3"])
    assert M.ndcg_at_k(truth, recs, 3) == pytest.approx(HAND["ndcg@3"])
    assert HAND["ndcg@3"] == pytest.approx(0.333712, abs=1e-6)
    assert M.map_at_k(truth, recs, 3) == pytest.approx(HAND["map@3"])
    assert M.hit_rate_at_k(truth, recs, 3) == pytest.approx(HAND["hit_rate@3"])
    assert M.mrr(truth, recs) == pytest.approx(HAND["mrr"])
    assert M.mrr(truth, recs, 3) == pytest.approx(HAND["mrr@3"])


def test_evaluate_agrees_with_single_metrics(case: tuple[DataFrame, DataFrame]) -> None:
    truth, recs = case
    out = M.evaluate(truth, recs, ks=(3, 4))
    assert out["n_users"] == 4
    for key, value in HAND.items():
        assert out[key] == pytest.approx(value), key
    assert set(out) == {
        "n_users",
        "mrr",
        *(f"{m}@{k}" for k in (3, 4) for m in M.ACCURACY_METRICS),
    }


def test_accuracy_by_segment_is_evaluate_per_segment(
    spark: SparkSession, case: tuple[DataFrame, DataFrame]
) -> None:
    """Segments measured in one pass give what evaluate() gives each one on its own,
    overlapping segments and a segment without users included."""
    truth, recs = case
    segments = {
        "all": truth,
        "u1_u2": truth.where(f"{S.USER_ID} in ('u1', 'u2')"),
        "some_items": truth.where(f"{S.ITEM_ID} in ('b', 'd', 'g')"),
        "nobody": truth.where("false"),
    }
    together = M.accuracy_by_segment(segments, recs, ks=(3, 4))
    assert list(together) == list(segments)
    for name, seg in segments.items():
        alone = M.evaluate(seg, recs, ks=(3, 4))
        assert set(together[name]) == set(alone), name
        for key, value in alone.items():
            if math.isnan(value):
                assert math.isnan(together[name][key]), (name, key)
            else:
                assert together[name][key] == pytest.approx(value), (name, key)
    assert together["nobody"]["n_users"] == 0
    assert together["all"]["recall@3"] == pytest.approx(HAND["recall@3"])


def test_user_metrics_one_row_per_truth_user(case: tuple[DataFrame, DataFrame]) -> None:
    truth, recs = case
    rows = {r[S.USER_ID]: r for r in M.user_metrics(truth, recs, ks=(3,)).collect()}
    assert sorted(rows) == ["u1", "u2", "u3", "u4"]  # u3 without recs is there, u5 is not
    assert rows["u1"]["recall@3"] == pytest.approx(2 / 3)
    assert rows["u3"]["ndcg@3"] == 0.0
    assert rows["u4"]["mrr"] == pytest.approx(0.25)


def test_duplicates_cannot_inflate(spark: SparkSession) -> None:
    # truth u1 {a} given twice; recs u1: a@1, a@2 (duplicate), b@3.
    # Deduplicated: one hit a@1 -> recall 1/1, precision 1/3 (not 2/3),
    # map (1/1) / min(1, 3) = 1 (not 2), ndcg 1.
    truth = truth_df(spark, [("u1", "a"), ("u1", "a")])
    recs = recs_df(spark, {"u1": ["a", "a", "b"]})
    out = M.evaluate(truth, recs, ks=(3,))
    assert out["n_users"] == 1
    assert out["recall@3"] == pytest.approx(1.0)
    assert out["precision@3"] == pytest.approx(1 / 3)
    assert out["map@3"] == pytest.approx(1.0)
    assert out["ndcg@3"] == pytest.approx(1.0)


def _reference(truth: dict[str, set[str]], recs: dict[str, list[str]], k: int) -> dict[str, float]:
    """Plain-Python accuracy metrics (lists without duplicates)."""
    sums = dict.fromkeys(["recall", "precision", "ndcg", "map", "hit_rate", "mrr"], 0.0)
    for user, rel in truth.items():
        top = recs.get(user, [])[:k]
        hits = [r for r, i in enumerate(top, start=1) if i in rel]
        ideal = min(len(rel), k)
        sums["recall"] += len(hits) / len(rel)
        sums["precision"] += len(hits) / k
        sums["ndcg"] += sum(1 / math.log2(r + 1) for r in hits) / sum(
            1 / math.log2(r + 1) for r in range(1, ideal + 1)
        )
        sums["map"] += sum((n + 1) / r for n, r in enumerate(hits)) / ideal
        sums["hit_rate"] += 1.0 if hits else 0.0
        sums["mrr"] += 1 / hits[0] if hits else 0.0
    return {f"{m}@{k}": v / len(truth) for m, v in sums.items()}


def test_evaluate_matches_python_reference_on_random_lists(spark: SparkSession) -> None:
    rng = random.Random(7)
    items = [f"i{j}" for j in range(12)]
    truth = {f"u{u}": set(rng.sample(items, rng.randint(1, 5))) for u in range(30)}
    recs = {u: rng.sample(items, rng.randint(0, 12)) for u in truth if rng.random() < 0.85}
    out = M.evaluate(
        truth_df(spark, [(u, i) for u, rel in truth.items() for i in sorted(rel)]),
        recs_df(spark, recs),
        ks=(3, 7),
    )
    for k in (3, 7):
        for key, value in _reference(truth, recs, k).items():
            assert out[key] == pytest.approx(value), key


# The beyond-accuracy case.
#   recs: u1 a b c d   u2 c z e   (z is in no table but recs)
#   catalog a b c d e; categories a X, b X, c Y, d Z, e Y
#   popularity (users): a 8, b 2, c 1, e 2 (d, z absent); 8 users in all
BEYOND_RECS = {"u1": ["a", "b", "c", "d"], "u2": ["c", "z", "e"]}


@pytest.fixture(scope="module")
def beyond(spark: SparkSession) -> dict[str, DataFrame]:
    return {
        "recs": recs_df(spark, BEYOND_RECS),
        "catalog": frame(spark, [(i,) for i in "abcde"], f"{S.ITEM_ID} string"),
        "categories": frame(
            spark,
            [("a", "X"), ("b", "X"), ("c", "Y"), ("d", "Z"), ("e", "Y")],
            f"{S.ITEM_ID} string, {S.CATEGORY} string",
        ),
        "popularity": frame(
            spark, [("a", 8), ("b", 2), ("c", 1), ("e", 2)], f"{S.ITEM_ID} string, {M.N_USERS} long"
        ),
    }


# coverage@1: {a, c} / 5 = 0.4; coverage@3: {a, b, c, e} / 5 = 0.8 (z is not in the catalog)
# diversity@3: u1 a X, b X, c Y: pairs ab same, ac, bc differ -> 2/3;
#              u2 c Y, e Y (z has no category): one pair, same -> 0;   mean 1/3
# diversity@4: u1 a b c d: 6 pairs, only ab same -> 5/6; u2 still 0;  mean 5/12
# novelty@3: self-information a -log2(8/8) = 0, b -log2(2/8) = 2, c -log2(1/8) = 3,
#            e 2, d and z (absent: one user) 3;
#            u1 (0 + 2 + 3) / 3 = 5/3, u2 (3 + 3 + 2) / 3 = 8/3;        mean 13/6
# popularity_bias@3: popularity sorted c 1, b 2, e 2, a 8 over 4 items; mid-rank percentile
#            c (0 + 0.5) / 4 = 0.125, b and e (1 + 0.5 * 2) / 4 = 0.5, a (3 + 0.5) / 4 = 0.875,
#            d and z 0; u1 (0.875 + 0.5 + 0.125) / 3 = 0.5, u2 (0.125 + 0 + 0.5) / 3 = 0.208333;
#            mean 0.354167
BEYOND_HAND = {
    "coverage@1": 0.4,
    "coverage@3": 0.8,
    "diversity@3": 1 / 3,
    "diversity@4": 5 / 12,
    "novelty@3": 13 / 6,
    "popularity_bias@3": (0.5 + 0.625 / 3) / 2,
}


def test_beyond_accuracy_match_hand_computation(beyond: dict[str, DataFrame]) -> None:
    recs = beyond["recs"]
    # (the other ks are checked through evaluate below)
    assert M.catalog_coverage(recs, beyond["catalog"], 3) == pytest.approx(0.8)
    assert M.intra_list_diversity(recs, beyond["categories"], 3) == pytest.approx(1 / 3)
    assert M.novelty(recs, beyond["popularity"], 8, 3) == pytest.approx(13 / 6)
    assert M.popularity_bias(recs, beyond["popularity"], 3) == pytest.approx(0.354167, abs=1e-6)


def test_evaluate_beyond_accuracy_uses_only_truth_users(
    spark: SparkSession, beyond: dict[str, DataFrame]
) -> None:
    # u9's list (d e) would lift coverage@1 to 3/5; evaluate leaves it out (u9 has no truth).
    recs = beyond["recs"].unionByName(recs_df(spark, {"u9": ["d", "e"]}))
    truth = truth_df(spark, [("u1", "c"), ("u2", "q")])
    out = M.evaluate(
        truth,
        recs,
        ks=(1, 3, 4),
        catalog=beyond["catalog"],
        item_categories=beyond["categories"],
        item_popularity=beyond["popularity"],
        n_users_total=8,
    )
    for key, value in BEYOND_HAND.items():
        assert out[key] == pytest.approx(value), key
    assert out["recall@3"] == pytest.approx(0.5)  # u1 c@3 of {c}; u2 nothing
    # k = 1: no list has two items, so no user qualifies
    assert math.isnan(out["diversity@1"])


def test_evaluate_over_no_users_is_nan_and_rows_skip_it(spark: SparkSession) -> None:
    out = M.evaluate(truth_df(spark, []), recs_df(spark, {"u1": ["a"]}), ks=(5,))
    assert out["n_users"] == 0
    assert math.isnan(out["recall@5"])
    rows = M.metrics_rows(
        out,
        model_name="m",
        model_version=None,
        protocol="time_split",
        segment="cold_users",
        run_id="r1",
        run_date=dt.date(2026, 11, 1),
        recorded_at=dt.datetime(2026, 11, 2, 3, 0),
    )
    assert [r["metric"] for r in rows] == ["n_users"]


def test_metrics_rows_fit_the_metrics_table(spark: SparkSession) -> None:
    rows = M.metrics_rows(
        {"recall@20": 0.25, "ndcg@20": 0.125, "n_users": 4.0},
        model_name="popularity",
        model_version="v1",
        protocol="time_split",
        segment="all",
        run_id="r1",
        run_date=dt.date(2026, 11, 1),
        recorded_at=dt.datetime(2026, 11, 2, 3, 0),
    )
    assert all(list(r) == S.METRICS.fieldNames() for r in rows)
    df = spark.createDataFrame(rows, S.METRICS)  # verifies types and nullability
    assert {r["metric"]: r["value"] for r in df.collect()} == {
        "recall@20": 0.25,
        "ndcg@20": 0.125,
        "n_users": 4.0,
    }


def test_format_table_sorts_by_first_metric() -> None:
    table = M.format_table(
        {
            "popularity": {"recall@20": 0.1, "ndcg@20": 0.05, "n_users": 1200.0},
            "als": {"recall@20": 0.2, "ndcg@20": 0.1, "n_users": 1200.0},
            "broken": {"ndcg@20": float("nan")},
        },
        ["recall@20", "ndcg@20", "n_users"],
    )
    lines = table.splitlines()
    assert lines[0].split() == ["model", "recall@20", "ndcg@20", "n_users"]
    assert [line.split()[0] for line in lines[2:]] == ["als", "popularity", "broken"]
    assert lines[2].split()[1:] == ["0.2000", "0.1000", "1,200"]
    assert lines[4].split()[1:] == ["-", "-", "-"]
    assert len({len(line) for line in lines}) == 1  # fixed width
