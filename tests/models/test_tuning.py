"""The one grid search: what it chooses, what it skips, when it fits nothing."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from shoprec import schemas as S
from shoprec.models import EASE, ItemKNN, Popularity, Recommender
from shoprec.models.tuning import grid_search, ndcg_metric, param_grid

from .conftest import frame

# Three items; two validation users, user 0 held out on item 0 and user 1 on item 2.
TRAIN = [(0, 1, 1.0), (1, 0, 1.0), (1, 1, 1.0), (2, 0, 1.0), (2, 1, 1.0), (3, 0, 1.0)]
TRUTH = [(0, 0), (1, 2)]
N_ITEMS = 3


def _data(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    truth = spark.createDataFrame(TRUTH, f"{S.USER_IDX} long, {S.ITEM_IDX} long")
    return frame(spark, TRAIN), truth


def test_param_grid_is_every_combination() -> None:
    assert param_grid(reg=[1.0, 2.0], max_items=[5]) == [
        {"reg": 1.0, "max_items": 5},
        {"reg": 2.0, "max_items": 5},
    ]


def test_a_refused_setting_is_skipped_and_the_best_of_the_rest_wins(spark: SparkSession) -> None:
    train, truth = _data(spark)
    built: list[dict[str, Any]] = []

    def build(params: dict[str, Any]) -> Recommender:
        built.append(params)
        return EASE(**params)

    def metric(truth_df: DataFrame, recs: DataFrame) -> float:  # by the setting just fitted
        return {1.0: 0.2, 5.0: 0.6, 9.0: 0.6}[built[-1]["reg"]]

    grid = [{"reg": 1.0, "max_items": 2}, {"reg": 1.0}, {"reg": 5.0}, {"reg": 9.0}]
    chosen = grid_search(grid, build, train, truth, metric_fn=metric, k=2, n_items=N_ITEMS)
    assert len(built) == 4  # the first was built, refused at fit, and skipped
    assert [t.params for t in chosen.trials] == grid[1:]
    assert (chosen.params, chosen.metric, chosen.skipped) == ({"reg": 5.0}, 0.6, None)  # first best


def test_every_setting_refused_gives_the_reason(spark: SparkSession) -> None:
    train, truth = _data(spark)
    grid = [{"reg": r, "max_items": 2} for r in (1.0, 10.0)]
    chosen = grid_search(
        grid, lambda p: EASE(**p), train, truth, metric_fn=ndcg_metric(2), k=2, n_items=N_ITEMS
    )
    assert chosen.params is None and chosen.metric is None and not chosen.trials
    assert chosen.skipped is not None and "exceeds max_items=2" in chosen.skipped


def test_one_setting_is_chosen_without_a_validation_fit(spark: SparkSession) -> None:
    train, truth = _data(spark)

    def build(params: dict[str, Any]) -> Recommender:
        raise AssertionError("no fit expected")

    chosen = grid_search(
        [{"reg": 3.0}], build, train, truth, metric_fn=ndcg_metric(2), k=2, n_items=N_ITEMS
    )
    assert (chosen.params, chosen.metric, chosen.trials) == ({"reg": 3.0}, None, [])


def test_ndcg_metric_by_hand(spark: SparkSession) -> None:
    _, truth = _data(spark)
    recs = spark.createDataFrame(
        [(0, 0, 0.9, 1), (0, 1, 0.5, 2), (1, 1, 0.9, 1), (1, 2, 0.5, 2)],
        f"{S.USER_IDX} long, {S.ITEM_IDX} long, {S.SCORE} double, {S.RANK} int",
    )
    # user 0: hit at rank 1 (1.0); user 1: hit at rank 2 (1 / log2(3) = 0.6309)
    assert ndcg_metric(2)(truth, recs) == pytest.approx((1.0 + 1 / math.log2(3)) / 2)


def test_an_empty_grid_is_refused(spark: SparkSession) -> None:
    train, truth = _data(spark)
    with pytest.raises(ValueError, match="no settings"):
        grid_search(
            [], lambda p: Popularity(), train, truth, metric_fn=ndcg_metric(2), k=2, n_items=N_ITEMS
        )


def test_settings_that_share_a_fit_are_fitted_in_one_pass(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, truth = _data(spark)
    passes: list[int] = []
    fit_all = ItemKNN.fit_all.__func__  # type: ignore[attr-defined]

    def counted(cls: type[ItemKNN], models: list[Recommender], *args: Any, **kw: Any) -> None:
        passes.append(len(models))
        fit_all(cls, models, *args, **kw)

    monkeypatch.setattr(ItemKNN, "fit_all", classmethod(counted))
    grid = [{"neighbours": 2, "shrinkage": s} for s in (0.0, 1.0, 5.0)]
    chosen = grid_search(
        grid, lambda p: ItemKNN(**p), train, truth, metric_fn=ndcg_metric(2), k=2, n_items=N_ITEMS
    )
    assert passes == [3]
    assert [t.params for t in chosen.trials] == grid and chosen.params in grid
