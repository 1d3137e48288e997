"""Model selection: the one grid search, on a validation split with a caller-supplied metric.

The nightly train stage and the Complete Journey benchmark both choose a model's
setting with :func:`grid_search`.

Example::

    chosen = grid_search(
        [{"reg": 100.0}, {"reg": 500.0}],
        lambda params: EASE(**params),
        train,
        valid_truth,
        metric_fn=ndcg_metric(20),
        k=20,
        n_items=n,
    )
    model = EASE(**chosen.params).fit(everything, n_items=n)
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.evaluation.metrics import evaluate
from shoprec.models.base import Recommender

log = logging.getLogger(__name__)

Params = dict[str, Any]
Builder = Callable[[Params], Recommender]
# metric_fn(truth[user_idx, item_idx], recs[user_idx, item_idx, score, rank]) -> higher is better
MetricFn = Callable[[DataFrame, DataFrame], float]


@dataclass(frozen=True)
class TuningResult:
    """One setting's validation outcome."""

    model: str
    params: Params
    metric: float
    seconds: float


@dataclass(frozen=True)
class GridChoice:
    """What :func:`grid_search` chose for one model.

    ``params`` is None only when every setting was refused (``skipped`` says why);
    ``metric`` is None when there was nothing to choose (one setting, no validation fit).
    """

    params: Params | None
    metric: float | None
    trials: list[TuningResult] = field(default_factory=list)
    skipped: str | None = None


def param_grid(**grid: Sequence[Any]) -> list[Params]:
    """One setting per combination of ``grid`` values.

    ``param_grid(reg=[100, 500], max_items=[20000])`` ->
    ``[{"reg": 100, "max_items": 20000}, {"reg": 500, "max_items": 20000}]``.
    """
    keys = list(grid)
    return [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(grid[k] for k in keys))
    ]


def ndcg_metric(k: int) -> MetricFn:
    """NDCG@``k`` (0..1) of index-space recommendations, as a :data:`MetricFn`."""
    rename = {S.USER_IDX: S.USER_ID, S.ITEM_IDX: S.ITEM_ID}

    def metric(truth: DataFrame, recs: DataFrame) -> float:
        scores = evaluate(
            truth.withColumnsRenamed(rename), recs.withColumnsRenamed(rename), ks=(k,)
        )
        return float(scores[f"ndcg@{k}"])

    return metric


def grid_search(
    grid: Sequence[Params],
    build: Builder,
    train: DataFrame,
    valid_truth: DataFrame,
    *,
    metric_fn: MetricFn,
    k: int,
    n_items: int,
) -> GridChoice:
    """Choose one setting of ``grid``: fit each on ``train``, score its top-``k`` on ``valid_truth``.

    ``build(params)`` makes a fresh, unfitted model. With one setting there is
    nothing to choose: it is returned without a validation fit (``metric`` None). A
    setting whose build or fit raises ValueError (EASE over its item limit) is
    skipped; when every setting is, ``params`` is None and ``skipped`` holds the last
    reason. The best setting wins (the first on ties); every fitted model is released,
    so refit the chosen setting on the data it will serve from. ``train`` is read once
    per setting (once in all where the model shares a fit among settings): cache it
    beforehand. Raises ValueError for an empty grid.
    """
    if not grid:
        raise ValueError("grid_search: no settings to choose from")
    if len(grid) == 1:
        return GridChoice(params=dict(grid[0]), metric=None)
    users = valid_truth.select(F.col(S.USER_IDX)).distinct()
    trials: list[TuningResult] = []
    refused: str | None = None
    best: TuningResult | None = None
    for params, model, fit_seconds in _fitted(grid, build, train, n_items):
        if isinstance(model, ValueError):  # e.g. EASE over its item limit
            log.warning("grid search: %s skipped: %s", params, model)
            refused = str(model)
            continue
        start = time.perf_counter()
        value = float(metric_fn(valid_truth, model.recommend(users, k)))
        model.release()
        seconds = fit_seconds + time.perf_counter() - start
        trial = TuningResult(model.name, dict(params), value, seconds)
        log.info("grid search: %s %s validation metric@%d=%.4f", model.name, params, k, value)
        trials.append(trial)
        if best is None or value > best.metric:
            best = trial
    if best is None:
        return GridChoice(params=None, metric=None, trials=trials, skipped=refused)
    return GridChoice(params=best.params, metric=best.metric, trials=trials)


def _fitted(
    grid: Sequence[Params], build: Builder, train: DataFrame, n_items: int
) -> Iterator[tuple[Params, Recommender | ValueError, float]]:
    """Each setting's fitted model (or the ValueError that refused it) and its fit seconds.

    Settings of a model that shares one pass over ``train`` among settings
    (:attr:`~shoprec.models.base.Recommender.shares_fit`, e.g. item-kNN's co-occurrence)
    are fitted together, their time split evenly; any other model is fitted only when
    its turn comes, so one fitted model at a time is held.
    """
    first = _build(build, grid[0])
    models: list[tuple[Params, Recommender | ValueError | None]] = [(grid[0], first)]
    if isinstance(first, Recommender) and first.shares_fit:
        models += [(params, _build(build, params)) for params in grid[1:]]
        built = [m for _, m in models if isinstance(m, Recommender)]
        if all(type(m) is type(first) for m in built):
            start = time.perf_counter()
            try:
                type(first).fit_all(built, train, n_items=n_items)
            except ValueError as err:
                models = [(params, err) for params, _ in models]
            each = (time.perf_counter() - start) / len(built)
            for params, model in models:
                assert model is not None
                yield params, model, each if isinstance(model, Recommender) else 0.0
            return
    else:
        models += [(params, None) for params in grid[1:]]  # built when their turn comes
    for params, model in models:
        if model is None:
            model = _build(build, params)
        if isinstance(model, ValueError):
            yield params, model, 0.0
            continue
        start = time.perf_counter()
        try:
            model.fit(train, n_items=n_items)
        except ValueError as err:
            yield params, err, 0.0
            continue
        yield params, model, time.perf_counter() - start


def _build(build: Builder, params: Params) -> Recommender | ValueError:
    try:
        return build(dict(params))
    except ValueError as err:
        return err
