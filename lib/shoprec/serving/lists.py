"""Lists every shop page can show without a personal model: popular and similar items.

Pure transforms over gold tables: the score stage calls them and stages the results
for publication; a user whose model list is short or empty is topped up here.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S


def popular_items(items: DataFrame, *, k: int, run_id: str) -> DataFrame:
    """Top ``k`` available items by decayed popularity, overall ("all") and per category.

    ``items``: one date's gold.item_features (``item_id``, ``available``,
    ``popularity``, ``category_l1``); items with no popularity are left out.
    Output: gold.popular_items columns ``category, rank, item_id, score, run_id``, ranks
    1..k per category by popularity, then item id.
    """
    avail = items.where(F.col(S.AVAILABLE) & (F.col("popularity") > 0))
    overall = avail.withColumn(S.CATEGORY, F.lit("all"))
    per_cat = avail.where(F.col("category_l1").isNotNull()).withColumn(
        S.CATEGORY, F.col("category_l1")
    )
    both = overall.unionByName(per_cat)
    w = Window.partitionBy(S.CATEGORY).orderBy(F.col("popularity").desc(), S.ITEM_ID)
    return (
        both.withColumn(S.RANK, F.row_number().over(w))
        .where(F.col(S.RANK) <= k)
        .select(
            S.CATEGORY,
            S.RANK,
            S.ITEM_ID,
            F.col("popularity").alias(S.SCORE),
            F.lit(run_id).alias(S.RUN_ID),
        )
    )


def fill_with_popular(
    lists: DataFrame, popular: DataFrame, items: DataFrame, purchased: DataFrame, *, k: int
) -> DataFrame:
    """Top up lists shorter than ``k`` with popular items the user has not bought.

    ``lists``: ``user_id, item_id, score, rank, reason``; ``popular``: the output of
    :func:`popular_items` (its "all" rows are used); ``items``: ``item_id,
    category_l1``; ``purchased``: ``user_id, item_id``. Every user in ``lists`` gets
    the most popular items not already in the list and not bought, with score 0 and
    the reason "popular in <category>", after the list's own items. Output: the
    columns of ``lists``, ranks renumbered 1..k per user.
    """
    overall = popular.where(F.col(S.CATEGORY) == "all").select(
        S.ITEM_ID, F.col(S.SCORE).alias("_pop"), F.col(S.RANK).alias("_pop_rank")
    )
    cats = items.select(S.ITEM_ID, "category_l1")
    users = lists.select(S.USER_ID).distinct()
    fill = (
        users.crossJoin(F.broadcast(overall))
        .join(lists.select(S.USER_ID, S.ITEM_ID), [S.USER_ID, S.ITEM_ID], "left_anti")
        .join(purchased.distinct(), [S.USER_ID, S.ITEM_ID], "left_anti")
        .join(cats, S.ITEM_ID, "left")
        .select(
            S.USER_ID,
            S.ITEM_ID,
            F.lit(0.0).alias(S.SCORE),
            (F.col("_pop_rank") + 10_000).alias(S.RANK),
            F.concat(F.lit("popular in "), F.coalesce("category_l1", F.lit("the shop"))).alias(
                "reason"
            ),
        )
    )
    both = lists.unionByName(fill)
    w = Window.partitionBy(S.USER_ID).orderBy(S.RANK, S.ITEM_ID)
    return both.withColumn(S.RANK, F.row_number().over(w)).where(F.col(S.RANK) <= k)


def similar_items(
    cooccurrence: DataFrame,
    items: DataFrame,
    *,
    k: int,
    version: str,
    run_id: str,
) -> DataFrame:
    """Per item, the ``k`` available items most often in the same sessions.

    ``cooccurrence``: one date's gold.item_cooccurrence; ``items``: ``item_id,
    available``. Output: gold.similar_items columns ``item_id, rank, similar_item_id,
    score, reason, model_version, run_id``.
    """
    avail = items.where(F.col(S.AVAILABLE)).select(F.col(S.ITEM_ID).alias(S.SIMILAR_ITEM_ID))
    w = Window.partitionBy(S.ITEM_ID).orderBy(F.col(S.SCORE).desc(), S.SIMILAR_ITEM_ID)
    return (
        cooccurrence.join(avail, S.SIMILAR_ITEM_ID)
        .withColumn(S.RANK, F.row_number().over(w))
        .where(F.col(S.RANK) <= k)
        .select(
            S.ITEM_ID,
            S.RANK,
            S.SIMILAR_ITEM_ID,
            S.SCORE,
            F.when(F.col("co_purchase") > 0, F.lit("often bought together"))
            .when(F.col("co_cart") > 0, F.lit("often in the same cart"))
            .otherwise(F.lit("often viewed together"))
            .alias("reason"),
            F.lit(version).alias(S.MODEL_VERSION),
            F.lit(run_id).alias(S.RUN_ID),
        )
    )
