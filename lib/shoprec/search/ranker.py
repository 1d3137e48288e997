"""The learned ranker: LightGBM lambdarank on search logs, scored in executors.

Training data is one row per (search, BM25 candidate) with the search's label for the
item (2 bought after the click, 1 clicked, 0 otherwise); a search is a query group.
Only searches with a clicked candidate teach anything and are kept. Scoring happens
in ``mapInPandas`` with the model text broadcast, so no query x item pairs reach the
driver; without a model the BM25 score is the score.

>>> model = train_ranker(frame, features=FEATURES, params=RankerParams())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType

from shoprec import schemas as S
from shoprec.evaluation.metrics import evaluate as evaluate_metrics
from shoprec.search.index import BM25
from shoprec.search.logs import LABEL

GROUP = S.SEARCH_ID
BM25_MODEL = "search_bm25"
RANKER_MODEL = "search_ranker"


@dataclass(frozen=True)
class RankerParams:
    """LightGBM lambdarank settings (config ``search.*``)."""

    num_trees: int = 200
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 20
    seed: int = 7


def label_candidates(candidates: DataFrame, clicks: DataFrame) -> DataFrame:
    """Candidates of searches (``search_id`` + features) with ``label`` 0/1/2.

    Keeps only searches with at least one labelled candidate.
    """
    labelled = candidates.join(
        clicks.select(GROUP, S.ITEM_ID, LABEL), [GROUP, S.ITEM_ID], "left"
    ).fillna({LABEL: 0})
    has_positive = F.max(LABEL).over(Window.partitionBy(GROUP))
    return labelled.withColumn("_pos", has_positive).where(F.col("_pos") > 0).drop("_pos")


def train_ranker(frame: pd.DataFrame, *, features: Sequence[str], params: RankerParams) -> str:
    """Fit lambdarank on ``frame`` (``search_id``, ``label``, features); the model as text.

    Rows are sorted by (search_id, item_id) first, so the same data gives the same model.
    """
    import lightgbm as lgb

    if frame.empty:
        raise ValueError("no labelled searches to train the ranker on")
    data = frame.sort_values([GROUP, S.ITEM_ID], kind="stable").reset_index(drop=True)
    groups = data.groupby(GROUP, sort=False).size().to_numpy()
    dataset = lgb.Dataset(
        data[list(features)].to_numpy(dtype=np.float64),
        label=data[LABEL].to_numpy(dtype=np.float64),
        group=groups,
        feature_name=list(features),
        free_raw_data=True,
    )
    booster = lgb.train(
        {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [10],
            "learning_rate": params.learning_rate,
            "num_leaves": params.num_leaves,
            "min_data_in_leaf": params.min_data_in_leaf,
            "label_gain": [0.0, 1.0, 3.0],
            "seed": params.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "verbosity": -1,
        },
        dataset,
        num_boost_round=params.num_trees,
    )
    return str(booster.model_to_string())


def score(frame: DataFrame, model: str | None, *, features: Sequence[str]) -> DataFrame:
    """``frame`` with ``score``: the model's prediction, or BM25 when ``model`` is None."""
    if model is None:
        return frame.withColumn(S.SCORE, F.col(BM25).cast("double"))
    spark = frame.sparkSession
    shared = spark.sparkContext.broadcast(model)
    names = list(features)
    schema = StructType([*frame.schema.fields, StructField(S.SCORE, DoubleType(), True)])

    def predict(parts: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import lightgbm as lgb

        booster = lgb.Booster(model_str=shared.value)
        for part in parts:
            x = part[names].to_numpy(dtype=np.float64)
            part[S.SCORE] = booster.predict(x, num_threads=1) if len(part) else []
            yield part

    return frame.mapInPandas(predict, schema)


def rank_by_score(scored: DataFrame, *, key: str, k: int | None = None) -> DataFrame:
    """``rank`` 1.. per ``key`` by score (ties by BM25, then item id); top ``k`` if given."""
    w = Window.partitionBy(key).orderBy(F.col(S.SCORE).desc(), F.col(BM25).desc(), S.ITEM_ID)
    ranked = scored.withColumn(S.RANK, F.row_number().over(w).cast("int"))
    return ranked if k is None else ranked.where(F.col(S.RANK) <= k)


def ranking_metrics(ranked: DataFrame, clicks: DataFrame, *, k: int) -> dict[str, float]:
    """NDCG@k and MRR (each 0..1) of ranked lists against the clicked items of each search.

    ``ranked``: ``search_id, item_id, rank``; ``clicks``: ``search_id, item_id``. Every
    search with a click counts; a clicked item outside the list scores 0. The metric
    code is :func:`shoprec.evaluation.metrics.evaluate`'s, with searches as users.
    """
    truth = clicks.select(F.col(GROUP).alias(S.USER_ID), S.ITEM_ID).distinct()
    recs = ranked.select(F.col(GROUP).alias(S.USER_ID), S.ITEM_ID, S.RANK)
    values = evaluate_metrics(truth, recs, ks=(k,))
    return {f"ndcg@{k}": values[f"ndcg@{k}"], "mrr": values["mrr"], "searches": values["n_users"]}


def feature_importance(model: str) -> dict[str, Any]:
    """Gain per feature of a saved model, for the run notes."""
    import lightgbm as lgb

    booster = lgb.Booster(model_str=model)
    gains = booster.feature_importance(importance_type="gain")
    return {n: round(float(g), 1) for n, g in zip(booster.feature_name(), gains, strict=True)}
