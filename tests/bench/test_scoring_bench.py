"""The scoring benchmark at toy size: its report, and the Spark path against numpy's top-k."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.bench.scoring import (
    make_data,
    run_benchmark,
    shoprec_recommendations,
    spark_inputs,
)
from shoprec.models.als import FactorSide
from shoprec.models.scoring import collect_pandas

USERS, ITEMS, RANK, K = 200, 50, 8, 10
CHECKED = [0, 1, 57, 123, 199]


def test_report_has_positive_throughputs(spark: SparkSession) -> None:
    data = make_data(USERS, ITEMS, RANK, history=3, seed=1)
    r = run_benchmark(spark, data, k=K, partitions=2)
    assert {"baseline_users_per_s", "shoprec_users_per_s", "ratio", "users", "items"} <= set(r)
    assert r["users"] == USERS and r["items"] == ITEMS
    assert r["baseline_users_per_s"] > 0 and r["shoprec_users_per_s"] > 0 and r["ratio"] > 0


def test_spark_top_k_equals_numpy(spark: SparkSession) -> None:
    data = make_data(USERS, ITEMS, RANK, history=3, seed=2)
    assert all(len(data.seen(u)) for u in CHECKED)
    vectors, history = spark_inputs(spark, data)
    side = spark.sparkContext.broadcast(FactorSide(data.item_factors, np.ones(ITEMS, bool)))
    try:
        recs = shoprec_recommendations(vectors, history, side, n_items=ITEMS, k=K).filter(
            F.col(S.USER_IDX).isin(CHECKED)
        )
        got = collect_pandas(recs).sort_values([S.USER_IDX, S.RANK])
    finally:
        side.destroy()
        vectors.unpersist()
        history.unpersist()
    for u in CHECKED:
        scores = (data.user_factors[u] @ data.item_factors.T).astype(np.float64)
        scores[data.seen(u)] = -np.inf
        top = np.argsort(-scores, kind="stable")[:K]
        row = got[got[S.USER_IDX] == u]
        assert row[S.RANK].tolist() == list(range(1, K + 1))
        assert row[S.ITEM_IDX].tolist() == top.tolist()
        assert row[S.SCORE].to_numpy() == pytest.approx(scores[top], rel=1e-5)
        assert not set(row[S.ITEM_IDX]) & set(data.seen(u).tolist())
