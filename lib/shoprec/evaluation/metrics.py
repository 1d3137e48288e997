"""Offline full-ranking metrics, computed in Spark; only scalar aggregates reach the driver.

Inputs:

* ``truth``: ``(user_id, item_id)`` relevant pairs (duplicates ignored).
* ``recs``: ``(user_id, item_id, rank)``, rank 1-based, any list length; only ranks
  ``<= k`` count for an ``@k`` metric. If an item appears twice in a user's list, only
  its best rank counts (a model cannot score twice with one item); ranks are not
  renumbered.

Accuracy metrics are averaged over the users in ``truth``: a user without recs scores 0,
and recs of users not in ``truth`` are ignored. Over no users at all they are NaN.
Beyond-accuracy metrics take the recs they are given; :func:`evaluate` first restricts
them to the users in ``truth``, so that every segment's numbers describe its own users.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import reduce
from typing import Any

import numpy as np
import scipy.sparse as sp
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S

N_USERS = "n_users"  # item_popularity: distinct users who interacted with the item
# The accuracy metrics evaluate() returns per k, as "<name>@<k>" (plus a whole-list "mrr").
ACCURACY_METRICS: tuple[str, ...] = ("recall", "precision", "ndcg", "map", "hit_rate", "mrr")

_NAN = float("nan")
_SEGMENT = "_segment"


# ------------------------------------------------------------------ helpers
def _valid_recs(recs: DataFrame) -> DataFrame:
    return recs.where(
        F.col(S.USER_ID).isNotNull() & F.col(S.ITEM_ID).isNotNull() & (F.col(S.RANK) >= 1)
    )


def _clean_recs(recs: DataFrame) -> DataFrame:
    """One row per (user, item) at its best rank; null and non-positive ranks dropped."""
    return (
        _valid_recs(recs).groupBy(S.USER_ID, S.ITEM_ID).agg(F.min(S.RANK).cast("int").alias(S.RANK))
    )


def _check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    out = tuple(sorted(set(ks)))
    if not out or out[0] < 1:
        raise ValueError(f"ks must be positive integers, got {tuple(ks)}")
    return out


def _count_if(cond: Column) -> Column:
    return F.sum(F.when(cond, 1).otherwise(0))


def _first(df: DataFrame) -> dict[str, Any]:
    row = df.first()
    return {} if row is None else row.asDict()


def _f(value: Any) -> float:
    return _NAN if value is None else float(value)


# ------------------------------------------------------------------ accuracy
def _within(ranks: Column, k: int) -> Column:
    return F.filter(ranks, lambda r: r <= k)


def _accuracy_columns(
    truth: DataFrame, recs: DataFrame, ks: Sequence[int], keys: Sequence[str] = ()
) -> tuple[DataFrame, list[str]]:
    """Per-user accuracy columns (``recall@k`` ...) for every user in truth, and their names.

    One aggregation of truth and recs together by (user, item), giving each relevant pair
    its best rank, then one by user into the sorted ranks of its hits; every k is
    computed from that array. With ``keys`` (columns of ``truth``, such as a segment),
    each key's truth is measured on its own, against the same recs, in the same pass.
    """
    t = truth.select(
        *keys,
        S.USER_ID,
        S.ITEM_ID,
        F.lit(True).alias("_rel"),
        F.lit(None).cast("int").alias(S.RANK),
    )
    r = _valid_recs(recs).select(
        S.USER_ID, S.ITEM_ID, F.lit(False).alias("_rel"), F.col(S.RANK).cast("int")
    )
    if keys:  # each key's users get their recs
        r = r.join(truth.select(*keys, S.USER_ID).distinct(), S.USER_ID).select(*t.columns)
    per_user = (
        t.unionByName(r)
        .where(F.col(S.USER_ID).isNotNull() & F.col(S.ITEM_ID).isNotNull())
        .groupBy(*keys, S.USER_ID, S.ITEM_ID)
        .agg(F.max("_rel").alias("_rel"), F.min(S.RANK).alias(S.RANK))
        .where(F.col("_rel"))
        .groupBy(*keys, S.USER_ID)
        .agg(
            F.count("*").alias("_n"),  # relevant items
            F.array_sort(F.collect_list(S.RANK)).alias("_ranks"),  # hits' ranks (nulls skipped)
        )
    )
    ranks = F.col("_ranks")
    n = F.col("_n")
    first = F.array_min(ranks)  # null without hits
    cols: dict[str, Column] = {"mrr": F.coalesce(1.0 / first, F.lit(0.0))}
    for k in ks:
        hits = _within(ranks, k)  # still sorted, so a hit's index is its count of hits - 1
        h = F.size(hits)
        dcg = F.aggregate(hits, F.lit(0.0), lambda acc, r: acc + 1.0 / F.log2(r + 1))
        precisions = F.transform(hits, lambda r, i: (i + 1) / r)  # precision at each hit
        ap = F.aggregate(precisions, F.lit(0.0), lambda acc, p: acc + p)
        # ideal DCG with i hits at ranks 1..i, for i = 0..k
        idcg = [0.0]
        for i in range(1, k + 1):
            idcg.append(idcg[-1] + 1.0 / math.log2(i + 1))
        ideal_hits = F.least(n, F.lit(k)).cast("int")
        cols |= {
            f"recall@{k}": h / n,
            f"precision@{k}": h / F.lit(float(k)),
            f"ndcg@{k}": dcg / F.element_at(F.array(*[F.lit(v) for v in idcg]), ideal_hits + 1),
            f"map@{k}": ap / ideal_hits,
            f"hit_rate@{k}": F.when(h > 0, 1.0).otherwise(0.0),
            f"mrr@{k}": F.when(first <= k, 1.0 / first).otherwise(0.0),
        }
    return (
        per_user.select(*keys, S.USER_ID, *[c.alias(name) for name, c in cols.items()]),
        list(cols),
    )


def user_metrics(truth: DataFrame, recs: DataFrame, *, ks: Sequence[int] = (10, 20)) -> DataFrame:
    """Per-user accuracy: ``user_id``, ``mrr`` and ``recall@k`` ... ``mrr@k`` per k, each 0..1.

    One row per user in ``truth``; for per-user analysis or significance tests.
    """
    df, _ = _accuracy_columns(truth, recs, _check_ks(ks))
    return df


def _accuracy(truth: DataFrame, recs: DataFrame, ks: Sequence[int]) -> dict[str, float]:
    per_user, names = _accuracy_columns(truth, recs, ks)
    row = _first(
        per_user.agg(F.count("*").alias(N_USERS), *[F.avg(F.col(f"`{c}`")).alias(c) for c in names])
    )
    out = {c: _f(row.get(c)) for c in names}
    out[N_USERS] = float(row.get(N_USERS) or 0)
    return out


def accuracy_by_segment(
    truths: Mapping[str, DataFrame], recs: DataFrame, *, ks: Sequence[int] = (10, 20)
) -> dict[str, dict[str, float]]:
    """The accuracy metrics of :func:`evaluate` (and ``n_users``) for each named truth.

    ``truths``: segment name -> ``(user_id, item_id)`` relevant pairs; each is measured
    against the same ``recs``, all of them in one Spark query. A segment without users
    gets NaN metrics and ``n_users`` 0, as :func:`evaluate` gives over no users.
    """
    ks = _check_ks(ks)
    if not truths:
        return {}
    tagged = reduce(
        DataFrame.unionByName,
        [t.select(F.lit(name).alias(_SEGMENT), S.USER_ID, S.ITEM_ID) for name, t in truths.items()],
    )
    per_user, names = _accuracy_columns(tagged, recs, ks, keys=(_SEGMENT,))
    rows = (
        per_user.groupBy(_SEGMENT)
        .agg(F.count("*").alias(N_USERS), *[F.avg(F.col(f"`{c}`")).alias(c) for c in names])
        .collect()
    )
    found = {r[_SEGMENT]: r.asDict() for r in rows}
    out = {}
    for name in truths:
        row = found.get(name, {})
        out[name] = {c: _f(row.get(c)) for c in names} | {N_USERS: float(row.get(N_USERS) or 0)}
    return out


def _one(truth: DataFrame, recs: DataFrame, k: int, name: str) -> float:
    return _accuracy(truth, recs, _check_ks([k]))[f"{name}@{k}"]


def recall_at_k(truth: DataFrame, recs: DataFrame, k: int) -> float:
    """Mean over truth users of |relevant in top k| / |relevant|; 0..1."""
    return _one(truth, recs, k, "recall")


def precision_at_k(truth: DataFrame, recs: DataFrame, k: int) -> float:
    """Mean over truth users of |relevant in top k| / k (shorter lists are not credited); 0..1."""
    return _one(truth, recs, k, "precision")


def ndcg_at_k(truth: DataFrame, recs: DataFrame, k: int) -> float:
    """Mean binary NDCG@k: discount log2(rank + 1), ideal = min(|relevant|, k) hits; 0..1."""
    return _one(truth, recs, k, "ndcg")


def map_at_k(truth: DataFrame, recs: DataFrame, k: int) -> float:
    """Mean average precision@k, each user's AP normalised by min(|relevant|, k); 0..1."""
    return _one(truth, recs, k, "map")


def hit_rate_at_k(truth: DataFrame, recs: DataFrame, k: int) -> float:
    """Share of truth users with at least one relevant item in the top k; 0..1."""
    return _one(truth, recs, k, "hit_rate")


def mrr(truth: DataFrame, recs: DataFrame, k: int | None = None) -> float:
    """Mean reciprocal rank of the first relevant item, in the whole list or the top k; 0..1."""
    if k is None:
        return _accuracy(truth, recs, [1])["mrr"]
    return _accuracy(truth, recs, _check_ks([k]))[f"mrr@{k}"]


# ------------------------------------------------------------ beyond accuracy
def ndcg_of_lists(top: np.ndarray, truth: sp.csr_matrix, k: int) -> float:
    """Mean NDCG@k of in-memory lists, as :func:`ndcg_at_k` defines it, over truth's users.

    ``top`` is ``(users, <= k)`` item indices best first (-1 pads a short list);
    ``truth`` is ``(users, n_items)`` with the relevant items of the same users non-zero.
    For a training loop that scores a validation set on its own, without Spark.
    """
    top = np.asarray(top)[:, :k]
    n_rel = np.diff(truth.indptr)
    if top.shape[0] != truth.shape[0]:
        raise ValueError(f"{top.shape[0]} lists for {truth.shape[0]} users")
    rows = np.broadcast_to(np.arange(top.shape[0])[:, None], top.shape)
    valid = top >= 0
    hits = np.zeros(top.shape, dtype=bool)
    hits[valid] = np.asarray(truth[rows[valid], top[valid]]).ravel() != 0
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discount[: top.shape[1]]).sum(axis=1)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(n_rel, k)]
    users = n_rel > 0
    return float((dcg[users] / ideal[users]).mean()) if users.any() else _NAN


def _coverage(recs: DataFrame, catalog_items: DataFrame, ks: Sequence[int]) -> dict[int, float]:
    best = recs.where(F.col(S.RANK) <= max(ks)).groupBy(S.ITEM_ID).agg(F.min(S.RANK).alias("_best"))
    catalog = catalog_items.select(S.ITEM_ID).where(F.col(S.ITEM_ID).isNotNull()).distinct()
    row = _first(
        catalog.join(best, S.ITEM_ID, "left").agg(
            F.count("*").alias("_n"), *[_count_if(F.col("_best") <= k).alias(f"_c{k}") for k in ks]
        )
    )
    n = row.get("_n") or 0
    return {k: (row[f"_c{k}"] / n if n else _NAN) for k in ks}


def catalog_coverage(recs: DataFrame, catalog_items: DataFrame, k: int) -> float:
    """Share of catalog items that are in at least one user's top k; 0..1.

    Recommended items outside ``catalog_items`` are not counted.
    """
    return _coverage(_valid_recs(recs), catalog_items, _check_ks([k]))[k]  # duplicates harmless


def _list_metrics(
    recs: DataFrame,
    ks: Sequence[int],
    *,
    item_categories: DataFrame | None = None,
    category_col: str = S.CATEGORY,
    item_popularity: DataFrame | None = None,
    n_users_total: int | None = None,
    with_bias: bool = True,
) -> dict[str, float]:
    """What each user's top k is made of, in one query: ``diversity@k`` (with
    ``item_categories``), ``popularity_bias@k`` (with ``item_popularity`` and ``with_bias``)
    and ``novelty@k`` (with ``item_popularity`` and ``n_users_total``).

    Every top-k row is tagged with its item's category and popularity values (broadcast
    joins of small per-item tables), counted per (user, category), then per user: the
    category counts give the same-category pairs, the other sums the per-user means.
    """
    top = recs.where(F.col(S.RANK) <= max(ks)).select(S.USER_ID, S.ITEM_ID, S.RANK)
    if item_categories is not None:
        # One category per item (the smallest, if the input has several).
        cats = (
            item_categories.where(F.col(category_col).isNotNull())
            .groupBy(S.ITEM_ID)
            .agg(F.min(category_col).alias("_cat"))
        )
        top = top.join(cats, S.ITEM_ID, "left")
    else:
        top = top.withColumn("_cat", F.lit(None).cast("string"))
    values: dict[str, Column] = {}  # per-item values averaged over each user's top k
    if item_popularity is not None:
        pop = item_popularity.groupBy(S.ITEM_ID).agg(F.max(N_USERS).cast("double").alias("_pop"))
        if with_bias:
            # Mid-rank percentile of each popularity value among catalog items:
            # (items strictly less popular + half the items equally popular) / items.
            # The window runs over distinct popularity values only (few rows).
            by_value = pop.groupBy("_pop").agg(F.count("*").alias("_eq"))
            below = Window.orderBy("_pop").rowsBetween(Window.unboundedPreceding, -1)
            everything = Window.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
            by_value = by_value.select(
                "_pop",
                (
                    (F.coalesce(F.sum("_eq").over(below), F.lit(0)) + 0.5 * F.col("_eq"))
                    / F.sum("_eq").over(everything)
                ).alias("_pct"),
            )
            pop = pop.join(F.broadcast(by_value), "_pop", "left")
            values["_pb"] = F.coalesce(F.col("_pct"), F.lit(0.0))
        if n_users_total is not None:
            if n_users_total < 1:
                raise ValueError(f"n_users_total must be >= 1, got {n_users_total}")
            p = F.greatest(F.coalesce(F.col("_pop"), F.lit(0.0)), F.lit(1.0)) / n_users_total
            values["_nov"] = -F.log2(p)
        top = top.join(pop, S.ITEM_ID, "left")
    top = top.select(S.USER_ID, S.RANK, "_cat", *[c.alias(name) for name, c in values.items()])

    per_cat = top.groupBy(S.USER_ID, "_cat").agg(
        *[_count_if(F.col(S.RANK) <= k).alias(f"_c{k}") for k in ks],
        *[
            F.sum(F.when(F.col(S.RANK) <= k, F.col(name))).alias(f"{name}{k}")
            for k in ks
            for name in values
        ],
    )
    categorised = F.col("_cat").isNotNull()
    per_user = per_cat.groupBy(S.USER_ID).agg(
        *[F.sum(f"_c{k}").alias(f"_n{k}") for k in ks],
        *[F.sum(F.when(categorised, F.col(f"_c{k}"))).alias(f"_dn{k}") for k in ks],
        *[
            F.sum(F.when(categorised, F.col(f"_c{k}") * (F.col(f"_c{k}") - 1) / 2)).alias(
                f"_same{k}"
            )
            for k in ks
        ],
        *[F.sum(f"{name}{k}").alias(f"{name}{k}") for k in ks for name in values],
    )
    means: list[Column] = []
    for k in ks:
        n, dn = F.col(f"_n{k}"), F.col(f"_dn{k}")
        if item_categories is not None:  # users with 2+ categorised items in their top k
            same_share = F.col(f"_same{k}") / (dn * (dn - 1) / 2)
            means.append(F.avg(F.when(dn >= 2, 1.0 - same_share)).alias(f"_d{k}"))
        means += [
            F.avg(F.when(n > 0, F.col(f"{name}{k}") / n)).alias(f"{name}{k}") for name in values
        ]
    if not means:
        return {}
    row = _first(per_user.agg(*means))
    out: dict[str, float] = {}
    for k in ks:
        if item_categories is not None:
            out[f"diversity@{k}"] = _f(row.get(f"_d{k}"))
        if "_nov" in values:
            out[f"novelty@{k}"] = _f(row.get(f"_nov{k}"))
        if "_pb" in values:
            out[f"popularity_bias@{k}"] = _f(row.get(f"_pb{k}"))
    return out


def intra_list_diversity(
    recs: DataFrame, item_categories: DataFrame, k: int, *, category_col: str = S.CATEGORY
) -> float:
    """Mean over users of the share of item pairs in the top k with different categories; 0..1.

    Items without a category are left out; users with fewer than 2 categorised items in
    their top k are left out of the mean (NaN if no user qualifies).
    """
    ks = _check_ks([k])
    out = _list_metrics(
        _clean_recs(recs), ks, item_categories=item_categories, category_col=category_col
    )
    return out[f"diversity@{k}"]


def novelty(recs: DataFrame, item_popularity: DataFrame, n_users_total: int, k: int) -> float:
    """Mean over users of their top k's mean self-information -log2 p(i); 0..log2(n_users_total).

    p(i) = ``n_users`` of i / ``n_users_total``; an item absent from ``item_popularity``
    (or with 0 users) counts as having one user, the most novel.
    """
    out = _list_metrics(
        _clean_recs(recs),
        _check_ks([k]),
        item_popularity=item_popularity,
        n_users_total=n_users_total,
        with_bias=False,
    )
    return out[f"novelty@{k}"]


def popularity_bias(recs: DataFrame, item_popularity: DataFrame, k: int) -> float:
    """Mean over users of the mean popularity percentile of their top-k items; 0..1.

    An item's percentile is its mid-rank among the items of ``item_popularity`` by
    ``n_users``: (items strictly less popular + half of the equally popular) / items.
    0.5 is what recommending catalog items at random gives; near 1 means only the most
    popular items. Items absent from ``item_popularity`` count as 0.
    """
    out = _list_metrics(_clean_recs(recs), _check_ks([k]), item_popularity=item_popularity)
    return out[f"popularity_bias@{k}"]


# ------------------------------------------------------------------ all at once
def beyond_accuracy(
    truth: DataFrame,
    recs: DataFrame,
    *,
    ks: Sequence[int] = (10, 20),
    catalog: DataFrame | None = None,
    item_categories: DataFrame | None = None,
    item_popularity: DataFrame | None = None,
    n_users_total: int | None = None,
    category_col: str = S.CATEGORY,
) -> dict[str, float]:
    """The beyond-accuracy metrics of :func:`evaluate`, over the recs of users in ``truth``.

    Two Spark queries at most: coverage (per catalog item), and what the lists are made
    of (diversity, novelty, popularity bias, per user). The cleaned recs are cached for
    the call's duration.
    """
    ks = _check_ks(ks)
    if catalog is None and item_categories is None and item_popularity is None:
        return {}
    users = truth.select(S.USER_ID).where(F.col(S.USER_ID).isNotNull()).distinct()
    # semi-join first: its partitioning by user also serves the dedup by (user, item)
    prepared = _clean_recs(recs.join(users, S.USER_ID, "left_semi"))
    prepared.persist(StorageLevel.MEMORY_AND_DISK)
    out: dict[str, float] = {}
    try:
        if catalog is not None:
            out |= {f"coverage@{k}": v for k, v in _coverage(prepared, catalog, ks).items()}
        out |= _list_metrics(
            prepared,
            ks,
            item_categories=item_categories,
            category_col=category_col,
            item_popularity=item_popularity,
            n_users_total=n_users_total,
        )
    finally:
        prepared.unpersist()
    return out


def evaluate(
    truth: DataFrame,
    recs: DataFrame,
    *,
    ks: Sequence[int] = (10, 20),
    catalog: DataFrame | None = None,
    item_categories: DataFrame | None = None,
    item_popularity: DataFrame | None = None,
    n_users_total: int | None = None,
    category_col: str = S.CATEGORY,
) -> dict[str, float]:
    """Every metric at every k, in at most three Spark queries; values as documented above.

    Keys: ``n_users``, ``mrr`` and per k ``recall@k``, ``precision@k``, ``ndcg@k``,
    ``map@k``, ``hit_rate@k``, ``mrr@k``; with ``catalog`` ``coverage@k``; with
    ``item_categories`` ``diversity@k``; with ``item_popularity`` ``popularity_bias@k``
    and, with ``n_users_total`` too, ``novelty@k``. Beyond-accuracy metrics use only the
    recs of users in ``truth`` (:func:`beyond_accuracy`).
    """
    ks = _check_ks(ks)
    return _accuracy(truth, recs, ks) | beyond_accuracy(
        truth,
        recs,
        ks=ks,
        catalog=catalog,
        item_categories=item_categories,
        item_popularity=item_popularity,
        n_users_total=n_users_total,
        category_col=category_col,
    )


# ------------------------------------------------------------------ reporting
def metrics_rows(
    values: dict[str, float],
    *,
    model_name: str,
    model_version: str | None,
    protocol: str,
    segment: str,
    run_id: str,
    run_date: dt.date,
    recorded_at: dt.datetime,
) -> list[dict[str, Any]]:
    """Rows for ``ops.metrics`` (exactly the columns of ``S.METRICS``), one per metric.

    NaN values (a metric over no users) are skipped; ``n_users`` says why.
    """
    rows = []
    for metric, value in values.items():
        if math.isnan(value):
            continue
        rows.append(
            {
                S.RUN_ID: run_id,
                "run_date": run_date,
                S.MODEL_NAME: model_name,
                S.MODEL_VERSION: model_version,
                "protocol": protocol,
                "segment": segment,
                "metric": metric,
                "value": float(value),
                "recorded_at": recorded_at,
            }
        )
    return rows


def _cell(metric: str, value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if metric == N_USERS:
        return f"{int(value):,}"
    return f"{value:.4f}"


def format_table(results: dict[str, dict[str, float]], metrics: list[str]) -> str:
    """A fixed-width table, one row per model sorted by the first metric (descending)."""

    def key(model: str) -> tuple[float, str]:
        v = results[model].get(metrics[0]) if metrics else None
        return (math.inf if v is None or math.isnan(v) else -v, model)  # missing last

    models = sorted(results, key=key)
    name_w = max([len("model"), *(len(m) for m in models)])
    widths = [max(len(m), 10) for m in metrics]
    lines = [
        "  ".join(
            [f"{'model':<{name_w}}", *(f"{m:>{w}}" for m, w in zip(metrics, widths, strict=True))]
        )
    ]
    lines.append("  ".join(["-" * name_w, *("-" * w for w in widths)]))
    for model in models:
        cells = [_cell(m, results[model].get(m)) for m in metrics]
        lines.append(
            "  ".join(
                [f"{model:<{name_w}}", *(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))]
            )
        )
    return "\n".join(lines)
