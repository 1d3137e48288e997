"""Planted structure: two user groups with disjoint items; personalised models must find them."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession

from shoprec import schemas as S
from shoprec.models import EASE, ALSRecommender, ItemKNN, Popularity, Recommender
from shoprec.models.tuning import grid_search, param_grid

from .conftest import frame, planted, recs_by_user, users_frame

K = 3


def _precision(recs: dict[int, list[int]], held: dict[int, set[int]]) -> float:
    hits = sum(len(set(recs.get(u, [])) & items) for u, items in held.items())
    return hits / (K * len(held))


def test_personalised_models_stay_in_group_and_beat_popularity(spark: SparkSession) -> None:
    rows, held, n_items = planted()
    train = frame(spark, rows).cache()
    users = users_frame(spark, held)
    models: list[Recommender] = [
        Popularity(),
        ItemKNN(neighbours=10, shrinkage=1.0),
        EASE(reg=10.0),
        ALSRecommender(rank=8, reg_param=1.0, alpha=10.0, max_iter=10, seed=1, num_blocks=2),
    ]
    precision = {}
    for model in models:
        recs = recs_by_user(model.fit(train, n_items=n_items).recommend(users, K))
        precision[model.name] = _precision(recs, held)
        if model.name != "popularity":
            assert set(recs) == set(held)
            for user, items in recs.items():
                group = range(0, 10) if user < 20 else range(10, 20)
                assert len(items) == K and all(i in group for i in items), (model.name, user)
        model.release()
    for name in ("itemknn", "ease", "als"):
        assert precision[name] > precision["popularity"] + 0.1, precision
    train.unpersist()


def test_grid_search_picks_the_better_regularisation(spark: SparkSession) -> None:
    rows, held, n_items = planted(seed=11)
    train = frame(spark, rows).cache()
    truth = spark.createDataFrame(
        [(u, i) for u, items in held.items() for i in items],
        f"{S.USER_IDX} long, {S.ITEM_IDX} long",
    )

    def precision_at_k(truth_df: DataFrame, recs_df: DataFrame) -> float:
        truth_sets: dict[int, set[int]] = {}
        for r in truth_df.collect():
            truth_sets.setdefault(r[S.USER_IDX], set()).add(r[S.ITEM_IDX])
        return _precision(recs_by_user(recs_df), truth_sets)

    def build(params: dict[str, Any]) -> Recommender:
        return EASE(**params) if params else Popularity()

    grid = [{}, *param_grid(reg=[10.0, 1e6])]
    chosen = grid_search(grid, build, train, truth, metric_fn=precision_at_k, k=K, n_items=n_items)
    results = chosen.trials
    assert [r.model for r in results] == ["popularity", "ease", "ease"]
    assert [r.params.get("reg") for r in results] == [None, 10.0, 1e6]
    best = max(results, key=lambda r: r.metric)
    assert best.model == "ease" and chosen.params == best.params  # EASE beats popularity
    assert chosen.metric == best.metric > results[0].metric
    train.unpersist()
