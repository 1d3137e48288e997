"""From model candidates to the published list: filters, business rules, diversity, reasons.

Every function is a pure DataFrame transform over candidate rows
``(user_id, item_id, score)``; they run in the executors, per user, and never
gather users on the driver. The order the scoring stage applies them::

    candidates
      .transform(apply_filters(...))      # purchased (unless repeat category), unavailable, blocked
      .transform(boost_new_arrivals(...)) # business rule from conf
      .transform(cap_per_group(brand))    # at most M per brand
      .transform(diversify(...))          # per-category cap or MMR
      .transform(add_reasons(...))        # "often bought with X", "popular in Y"
      -> rank 1..list_size
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StructField, StructType

from shoprec import schemas as S

REASON = "reason"


def _in_categories(path: Column, prefixes: Sequence[str]) -> Column:
    """Whether a category path equals or lies under any of ``prefixes``."""
    hit = F.lit(False)
    for p in prefixes:
        p = p.strip("/").lower()
        hit = hit | (path == p) | path.startswith(p + "/")
    return hit


def apply_filters(
    candidates: DataFrame,
    items: DataFrame,
    purchased: DataFrame,
    *,
    repeat_purchase_categories: Sequence[str],
    blocked_categories: Sequence[str],
) -> DataFrame:
    """Drop what must never be shown; add the item columns later steps need.

    Removed: items the user bought (except in categories marked as repeat
    purchases, such as groceries), unavailable or unknown items, and items in
    blocked categories. ``items``: item_id, category_path, brand, available,
    added_date (gold.item_features).
    """
    cols = [S.ITEM_ID, S.CATEGORY_PATH, "category_l1", S.BRAND, S.AVAILABLE, S.ADDED_DATE]
    joined = candidates.join(items.select(*cols), S.ITEM_ID, "inner").where(F.col(S.AVAILABLE))
    bought = purchased.select(S.USER_ID, S.ITEM_ID).distinct().withColumn("_bought", F.lit(True))
    joined = joined.join(bought, [S.USER_ID, S.ITEM_ID], "left")
    path = F.coalesce(F.col(S.CATEGORY_PATH), F.lit(""))
    keep = F.col("_bought").isNull() | _in_categories(path, repeat_purchase_categories)
    if blocked_categories:
        keep = keep & ~_in_categories(path, blocked_categories)
    return joined.where(keep).drop("_bought")


def boost_new_arrivals(
    candidates: DataFrame, *, as_of: dt.date, days: int, boost: float
) -> DataFrame:
    """Multiply the score of items added within ``days`` of ``as_of`` by ``1 + boost``."""
    if boost == 0 or days <= 0:
        return candidates
    since = as_of - dt.timedelta(days=days)
    is_new = F.col(S.ADDED_DATE).isNotNull() & (F.col(S.ADDED_DATE) > F.lit(since))
    return candidates.withColumn(
        S.SCORE, F.when(is_new, F.col(S.SCORE) * (1 + boost)).otherwise(F.col(S.SCORE))
    ).withColumn("_new_arrival", is_new)


def cap_per_group(candidates: DataFrame, *, column: str, max_per_group: int) -> DataFrame:
    """Keep at most ``max_per_group`` of a user's candidates per value of ``column``."""
    w = Window.partitionBy(S.USER_ID, F.coalesce(F.col(column), F.lit(""))).orderBy(
        F.col(S.SCORE).desc(), S.ITEM_ID
    )
    return (
        candidates.withColumn("_n", F.row_number().over(w))
        .where(F.col("_n") <= max_per_group)
        .drop("_n")
    )


def mmr(
    candidates: DataFrame, *, k: int, lambda_: float, similarity_column: str = "category_l1"
) -> DataFrame:
    """Maximal marginal relevance: greedily trade score against sameness, per user.

    Similarity of two items is 1 when they share ``similarity_column`` (the
    top-level category by default), else 0; scores are min-max scaled per user.
    ``lambda_`` = 1 is pure relevance. Returns at most ``k`` rows per user with
    an ``_mmr_order`` column.
    """
    schema = StructType([*candidates.schema.fields, StructField("_mmr_order", IntegerType())])
    out_cols = [f.name for f in schema.fields]
    return candidates.groupBy(S.USER_ID).applyInPandas(
        lambda g: _mmr_one(g, k=k, lambda_=lambda_, sim_col=similarity_column)[out_cols], schema
    )


def _mmr_one(g: pd.DataFrame, *, k: int, lambda_: float, sim_col: str) -> pd.DataFrame:
    g = g.sort_values([S.SCORE, S.ITEM_ID], ascending=[False, True]).reset_index(drop=True)
    scores = g[S.SCORE].to_numpy(dtype=float)
    span = scores.max() - scores.min() if len(scores) else 0.0
    rel = (scores - scores.min()) / span if span > 0 else scores * 0 + 1
    groups = g[sim_col].fillna("").to_numpy()
    chosen: list[int] = []
    seen: set[str] = set()
    remaining = list(range(len(g)))
    while remaining and len(chosen) < k:
        best = max(remaining, key=lambda i: lambda_ * rel[i] - (1 - lambda_) * (groups[i] in seen))
        chosen.append(best)
        seen.add(groups[best])
        remaining.remove(best)
    out = g.iloc[chosen].copy()
    out["_mmr_order"] = range(1, len(chosen) + 1)
    return out


def diversify(
    candidates: DataFrame, *, method: str, k: int, max_per_category: int, mmr_lambda: float
) -> DataFrame:
    """Per-category cap (``category_cap``) or MMR (``mmr``), then at most ``k`` per user."""
    if method == "mmr":
        ranked = mmr(candidates, k=k, lambda_=mmr_lambda)
        order = F.col("_mmr_order")
    elif method == "category_cap":
        ranked = cap_per_group(candidates, column="category_l1", max_per_group=max_per_category)
        order = F.lit(0)
    else:
        raise ValueError(f"diversity method must be category_cap or mmr, got {method!r}")
    w = Window.partitionBy(S.USER_ID).orderBy(order, F.col(S.SCORE).desc(), S.ITEM_ID)
    return (
        ranked.withColumn(S.RANK, F.row_number().over(w))
        .where(F.col(S.RANK) <= k)
        .drop("_mmr_order")
    )


def add_reasons(
    recs: DataFrame,
    recent: DataFrame,
    cooccurrence: DataFrame,
    titles: DataFrame,
    *,
    personalized: bool = True,
) -> DataFrame:
    """A short reason a person can read, per recommendation.

    "often bought with X" / "often viewed with X" when the item co-occurs in
    sessions with something the user recently interacted with (X is the
    strongest such item), "new arrival in Y" for boosted new items, otherwise
    "matches your interest in Y" (personalized lists) or "popular in Y"
    (popularity and cold-start lists). ``recent``: user_id, item_id;
    ``cooccurrence``: gold.item_cooccurrence; ``titles``: item_id, title.
    """
    pairs = cooccurrence.select(
        F.col(S.ITEM_ID).alias("_anchor"),
        F.col(S.SIMILAR_ITEM_ID).alias(S.ITEM_ID),
        F.col(S.SCORE).alias("_co_score"),
        (F.col("co_purchase") > 0).alias("_bought_with"),
    )
    anchors = recent.select(S.USER_ID, F.col(S.ITEM_ID).alias("_anchor")).distinct()
    linked = (
        recs.select(S.USER_ID, S.ITEM_ID)
        .join(pairs, S.ITEM_ID)
        .join(anchors, [S.USER_ID, "_anchor"])
        .groupBy(S.USER_ID, S.ITEM_ID)
        .agg(F.max_by(F.struct("_anchor", "_bought_with"), "_co_score").alias("_link"))
        .join(
            titles.select(F.col(S.ITEM_ID).alias("_anchor_id"), F.col(S.TITLE).alias("_t")),
            F.col("_link._anchor") == F.col("_anchor_id"),
            "left",
        )
        .select(
            S.USER_ID,
            S.ITEM_ID,
            F.concat(
                F.when(F.col("_link._bought_with"), F.lit("often bought with ")).otherwise(
                    F.lit("often viewed with ")
                ),
                F.coalesce(F.col("_t"), F.col("_link._anchor")),
            ).alias("_linked_reason"),
        )
    )
    out = recs.join(linked, [S.USER_ID, S.ITEM_ID], "left")
    category = F.coalesce(F.col("category_l1"), F.lit("the shop"))
    new = F.col("_new_arrival") if "_new_arrival" in recs.columns else F.lit(False)
    plain = "matches your interest in " if personalized else "popular in "
    fallback = F.when(new, F.concat(F.lit("new arrival in "), category)).otherwise(
        F.concat(F.lit(plain), category)
    )
    return out.withColumn(REASON, F.coalesce(F.col("_linked_reason"), fallback)).drop(
        "_linked_reason"
    )
