"""Model selection: grid search on a validation split with a caller-supplied metric."""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.models.base import Recommender

Factory = Callable[[], Recommender]
# metric_fn(truth[user_idx, item_idx], recs[user_idx, item_idx, score, rank]) -> higher is better
MetricFn = Callable[[DataFrame, DataFrame], float]


@dataclass(frozen=True)
class TuningResult:
    """One candidate's outcome."""

    model: str
    params: dict[str, Any]
    metric: float
    seconds: float


def param_grid(factory: Callable[..., Recommender], **grid: Sequence[Any]) -> list[Factory]:
    """One factory per combination of ``grid`` values, e.g. ``param_grid(EASE, reg=[100, 500])``."""
    keys = list(grid)
    return [
        functools.partial(factory, **dict(zip(keys, values, strict=True)))
        for values in itertools.product(*(grid[k] for k in keys))
    ]


def choose_by_validation(
    candidates: Sequence[Factory],
    train: DataFrame,
    valid_truth: DataFrame,
    metric_fn: MetricFn,
    k: int,
    *,
    n_items: int,
) -> tuple[Recommender, list[TuningResult]]:
    """Fit every candidate on ``train``, score its top-``k`` for the users in ``valid_truth``.

    Returns the best model (highest metric; the first on ties) and one result per
    candidate in order. Losing models' broadcasts are released. ``train`` is read once
    per candidate, so cache it beforehand.
    """
    if not candidates:
        raise ValueError("no candidates")
    users = valid_truth.select(F.col(S.USER_IDX)).distinct()
    results: list[TuningResult] = []
    best: Recommender | None = None
    best_metric = float("-inf")
    for make in candidates:
        start = time.perf_counter()
        model = make().fit(train, n_items=n_items)
        value = float(metric_fn(valid_truth, model.recommend(users, k)))
        p = model.params()
        results.append(
            TuningResult(str(p.get("model", model.name)), p, value, time.perf_counter() - start)
        )
        if best is None or value > best_metric:
            if best is not None:
                best.release()
            best, best_metric = model, value
        else:
            model.release()
    assert best is not None
    return best, results
