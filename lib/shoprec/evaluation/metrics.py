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


def _diversity(
    recs: DataFrame, item_categories: DataFrame, ks: Sequence[int], category_col: str
) -> dict[int, float]:
    # One category per item (the smallest, if the input has several).
    cats = (
        item_categories.where(F.col(category_col).isNotNull())
        .groupBy(S.ITEM_ID)
        .agg(F.min(category_col).alias("_cat"))
    )
    top = recs.where(F.col(S.RANK) <= max(ks)).join(cats, S.ITEM_ID)
    per_cat = top.groupBy(S.USER_ID, "_cat").agg(
        *[_count_if(F.col(S.RANK) <= k).alias(f"_c{k}") for k in ks]
    )
    per_user = per_cat.groupBy(S.USER_ID).agg(
        *[F.sum(f"_c{k}").alias(f"_n{k}") for k in ks],
        *[F.sum(F.col(f"_c{k}") * (F.col(f"_c{k}") - 1) / 2).alias(f"_same{k}") for k in ks],
    )
    divs = []
    for k in ks:
        n = F.col(f"_n{k}")
        pairs = n * (n - 1) / 2
        divs.append(F.avg(F.when(n >= 2, 1.0 - F.col(f"_same{k}") / pairs)).alias(f"_d{k}"))
    row = _first(per_user.agg(*divs))
    return {k: _f(row.get(f"_d{k}")) for k in ks}


def intra_list_diversity(
    recs: DataFrame, item_categories: DataFrame, k: int, *, category_col: str = S.CATEGORY
) -> float:
    """Mean over users of the share of item pairs in the top k with different categories; 0..1.

    Items without a category are left out; users with fewer than 2 categorised items in
    their top k are left out of the mean (NaN if no user qualifies).
    """
    return _diversity(_clean_recs(recs), item_categories, _check_ks([k]), category_col)[k]


def _popularity(
    recs: DataFrame,
    item_popularity: DataFrame,
    ks: Sequence[int],
    n_users_total: int | None,
    with_bias: bool = True,
) -> dict[str, float]:
    """``novelty@k`` (if ``n_users_total``) and ``popularity_bias@k`` (if ``with_bias``)."""
    pop = item_popularity.groupBy(S.ITEM_ID).agg(F.max(N_USERS).cast("double").alias("_pop"))
    cols: dict[str, Column] = {}
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
        cols |= {"_pb": F.coalesce(F.col("_pct"), F.lit(0.0))}
    if n_users_total is not None:
        if n_users_total < 1:
            raise ValueError(f"n_users_total must be >= 1, got {n_users_total}")
        p = F.greatest(F.coalesce(F.col("_pop"), F.lit(0.0)), F.lit(1.0)) / float(n_users_total)
        cols |= {"_nov": -F.log2(p)}
    if not cols:
        return {}
    top = recs.where(F.col(S.RANK) <= max(ks)).join(pop, S.ITEM_ID, "left")
    top = top.select(S.USER_ID, S.RANK, *[c.alias(name) for name, c in cols.items()])
    sums = []
    for k in ks:
        in_k = F.col(S.RANK) <= k
        sums.append(_count_if(in_k).alias(f"_n{k}"))
        sums += [F.sum(F.when(in_k, F.col(name))).alias(f"{name}{k}") for name in cols]
    per_user = top.groupBy(S.USER_ID).agg(*sums)
    means = [
        F.avg(F.when(F.col(f"_n{k}") > 0, F.col(f"{name}{k}") / F.col(f"_n{k}"))).alias(
            f"{name}{k}"
        )
        for k in ks
        for name in cols
    ]
    row = _first(per_user.agg(*means))
    out: dict[str, float] = {}
    for k in ks:
        if "_nov" in cols:
            out[f"novelty@{k}"] = _f(row.get(f"_nov{k}"))
        if "_pb" in cols:
            out[f"popularity_bias@{k}"] = _f(row.get(f"_pb{k}"))
    return out


def novelty(recs: DataFrame, item_popularity: DataFrame, n_users_total: int, k: int) -> float:
    """Mean over users of their top k's mean self-information -log2 p(i); 0..log2(n_users_total).

    p(i) = ``n_users`` of i / ``n_users_total``; an item absent from ``item_popularity``
    (or with 0 users) counts as having one user, the most novel.
    """
    ks = _check_ks([k])
    return _popularity(_clean_recs(recs), item_popularity, ks, n_users_total, False)[f"novelty@{k}"]


def popularity_bias(recs: DataFrame, item_popularity: DataFrame, k: int) -> float:
    """Mean over users of the mean popularity percentile of their top-k items; 0..1.

    An item's percentile is its mid-rank among the items of ``item_popularity`` by
    ``n_users``: (items strictly less popular + half of the equally popular) / items.
    0.5 is what recommending catalog items at random gives; near 1 means only the most
    popular items. Items absent from ``item_popularity`` count as 0.
    """
    ks = _check_ks([k])
    return _popularity(_clean_recs(recs), item_popularity, ks, None)[f"popularity_bias@{k}"]


# ------------------------------------------------------------------ all at once
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
    """Every metric at every k in one Spark job per metric family; values as documented above.

    Keys: ``n_users``, ``mrr`` and per k ``recall@k``, ``precision@k``, ``ndcg@k``,
    ``map@k``, ``hit_rate@k``, ``mrr@k``; with ``catalog`` ``coverage@k``; with
    ``item_categories`` ``diversity@k``; with ``item_popularity`` ``popularity_bias@k``
    and, with ``n_users_total`` too, ``novelty@k``. Beyond-accuracy metrics use only the
    recs of users in ``truth``. The cleaned recs are cached for the call's duration.
    """
    ks = _check_ks(ks)
    users = truth.select(S.USER_ID).where(F.col(S.USER_ID).isNotNull()).distinct()
    # semi-join first: its partitioning by user also serves the dedup by (user, item)
    prepared = _clean_recs(recs.join(users, S.USER_ID, "left_semi"))
    prepared.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        out = _accuracy(truth, prepared, ks)
        if catalog is not None:
            for k, v in _coverage(prepared, catalog, ks).items():
                out[f"coverage@{k}"] = v
        if item_categories is not None:
            for k, v in _diversity(prepared, item_categories, ks, category_col).items():
                out[f"diversity@{k}"] = v
        if item_popularity is not None:
            out |= _popularity(prepared, item_popularity, ks, n_users_total)
    finally:
        prepared.unpersist()
    return out


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
