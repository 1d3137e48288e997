from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

from shoprec.search.features import FEATURES
from shoprec.search.ranker import RankerParams, rank_by_score, ranking_metrics, score, train_ranker


def frame(n_searches: int, seed: int) -> pd.DataFrame:
    """Searches of 10 candidates; the clicked one has the highest ctr, BM25 is noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_searches):
        ctr = rng.random(10)
        for i in range(10):
            feats = dict.fromkeys(FEATURES, 0.0) | {"ctr": ctr[i], "bm25": float(rng.random())}
            rows.append(
                {"search_id": f"s{s}", "item_id": f"i{i}", "label": int(i == ctr.argmax())} | feats
            )
    return pd.DataFrame(rows)


def test_the_ranker_learns_what_bm25_misses_and_scores_in_executors(spark: SparkSession) -> None:
    model = train_ranker(
        frame(60, 1), features=FEATURES, params=RankerParams(num_trees=30, min_data_in_leaf=5)
    )
    test = frame(30, 2)
    df = spark.createDataFrame(test)
    clicks = df.where("label > 0").select("search_id", "item_id")
    bm25 = ranking_metrics(
        rank_by_score(score(df, None, features=FEATURES), key="search_id"), clicks, k=10
    )
    ranked = rank_by_score(score(df, model, features=FEATURES), key="search_id")
    learned = ranking_metrics(ranked, clicks, k=10)
    assert learned["mrr"] > 0.9 > bm25["mrr"]
    assert learned["ndcg@10"] > bm25["ndcg@10"]
    assert learned["searches"] == 30
    # the same text model gives the same scores (deterministic training)
    again = train_ranker(
        frame(60, 1), features=FEATURES, params=RankerParams(num_trees=30, min_data_in_leaf=5)
    )
    assert again == model
