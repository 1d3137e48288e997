"""Catalog snapshot + silver events -> gold.item_features: one row per catalog item.

Title tokens come from the one tokenizer search also uses (:mod:`shoprec.text`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.features._common import is_type, item_events
from shoprec.features.interactions import interactions
from shoprec.text import title_tokens

PRICE_BANDS = 5
# Conversion smoothing: as if every item had PRIOR_VIEWS more views and
# PRIOR_VIEWS * PRIOR_RATE more purchases (a prior rate of 10% worth 10 views).
PRIOR_VIEWS = 10.0
PRIOR_RATE = 0.1


def category_l1(path: Column) -> Column:
    """The first segment of a ``/``-separated category path (null if empty)."""
    return F.nullif(F.substring_index(path, "/", 1), F.lit(""))


def price_band(price: str, group: str) -> Column:
    """Price quintile 1..5 within ``group``: ``1 + floor(5 * percent_rank)``, capped at 5.

    Equal prices share a band; a group of one item gets band 1; a null price gets
    null (nulls are ranked apart from the priced items).
    """
    w = Window.partitionBy(F.col(group), F.col(price).isNull())
    rank = F.rank().over(w.orderBy(price)) - 1
    last = F.count(F.lit(1)).over(w) - 1
    band = F.when(last == 0, F.lit(1)).otherwise(
        F.least(F.floor(rank * PRICE_BANDS / last) + 1, F.lit(PRICE_BANDS))
    )
    return F.when(F.col(price).isNotNull(), band.cast("int"))


def item_features(
    items_snapshot: DataFrame,
    events: DataFrame,
    *,
    as_of: dt.date,
    weights: Mapping[str, float],
    half_life_days: float,
    trend_days: int = 7,
) -> DataFrame:
    """Catalog attributes, text tokens and engagement statistics of each catalog item.

    ``items_snapshot``: silver.items rows of one snapshot (that of ``as_of``).
    ``events``: silver events dated on or before ``as_of``.

    - ``views``/``carts``/``purchases``: counts of view, add_to_cart and purchase events.
    - ``popularity``: the sum over users of their :func:`~shoprec.features.interactions.
      interactions` weight for the item (same ``weights``/``half_life_days``).
    - ``trend``: ``(e_recent + 1) / (e_before / 4 + 1)``, where ``e_recent`` counts the
      item's events dated in the last ``trend_days`` days up to ``as_of`` and
      ``e_before`` those in the ``4 * trend_days`` days before that; the +1s keep
      new and quiet items near 1 instead of dividing by 0.
    - ``conversion_rate``: ``(purchases + 1) / (views + 10)``, additive smoothing
      towards a prior rate of 10% worth 10 views: an unviewed item gets 0.1 and
      the raw ``purchases / views`` takes over as views grow.

    Output: :data:`~shoprec.schemas.ITEM_FEATURES` columns, one row per snapshot item;
    items without events get zero counts, popularity 0, trend 1 and conversion 0.1.
    """
    if trend_days < 1:
        raise ValueError(f"trend_days must be >= 1, got {trend_days}")
    day = F.col(S.EVENT_DATE)
    recent_from = F.lit(as_of - dt.timedelta(days=trend_days))
    before_from = F.lit(as_of - dt.timedelta(days=5 * trend_days))
    stats = (
        events.transform(item_events, as_of)
        .groupBy(S.ITEM_ID)
        .agg(
            F.sum(is_type(S.VIEW)).alias("views"),
            F.sum(is_type(S.ADD_TO_CART)).alias("carts"),
            F.sum(is_type(S.PURCHASE)).alias("purchases"),
            F.sum((day > recent_from).cast("long")).alias("_recent"),
            F.sum(((day <= recent_from) & (day > before_from)).cast("long")).alias("_before"),
        )
    )
    popularity = (
        interactions(events, as_of=as_of, weights=weights, half_life_days=half_life_days)
        .groupBy(S.ITEM_ID)
        .agg(F.sum(S.WEIGHT).alias("popularity"))
    )

    def zero(c: str) -> Column:
        return F.coalesce(F.col(c), F.lit(0))

    return (
        items_snapshot.select(
            S.ITEM_ID,
            S.CATEGORY_PATH,
            category_l1(F.col(S.CATEGORY_PATH)).alias("category_l1"),
            S.BRAND,
            S.PRICE,
            title_tokens(F.col(S.TITLE)).alias("title_tokens"),
            S.AVAILABLE,
            S.ADDED_DATE,
        )
        .withColumn("price_band", price_band(S.PRICE, "category_l1"))
        .join(stats, S.ITEM_ID, "left")
        .join(popularity, S.ITEM_ID, "left")
        .select(
            S.ITEM_ID,
            S.CATEGORY_PATH,
            "category_l1",
            S.BRAND,
            S.PRICE,
            "price_band",
            "title_tokens",
            S.AVAILABLE,
            S.ADDED_DATE,
            zero("views").cast("long").alias("views"),
            zero("carts").cast("long").alias("carts"),
            zero("purchases").cast("long").alias("purchases"),
            F.coalesce(F.col("popularity"), F.lit(0.0)).alias("popularity"),
            ((zero("_recent") + 1) / (zero("_before") / 4 + 1)).alias("trend"),
            ((zero("purchases") + PRIOR_VIEWS * PRIOR_RATE) / (zero("views") + PRIOR_VIEWS)).alias(
                "conversion_rate"
            ),
            F.lit(as_of).alias(S.AS_OF_DATE),
        )
    )
