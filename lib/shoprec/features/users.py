"""Silver events + item features -> gold.user_features: one row per user with events."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.features._common import is_type, item_events, up_to


def _lower_median(c: Column) -> Column:
    """The median of non-null values (the lower middle one for an even count; exact below 10k)."""
    return F.percentile_approx(c, 0.5)


def user_features(events: DataFrame, item_features: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Recency, frequency, monetary value and category/price taste of each user.

    ``events``: silver events dated on or before ``as_of``; ``item_features``:
    gold.item_features of ``as_of`` (for ``category_l1``, ``price_band`` and the
    catalog price).

    - ``recency_days``: days from the user's last event date to ``as_of``.
    - ``frequency``: distinct sessions; ``events``: all events, searches included.
    - ``monetary``: sum of ``price * quantity`` over purchases (the catalog price
      where the event has none, quantity 1 where missing).
    - ``category_affinity``: ``category_l1`` -> share of the user's item events on
      items of that category (items without a known category are left out, so the
      shares sum to 1; empty map when none is known). ``top_category``: the largest
      share (ties: the alphabetically first category).
    - ``price_band``: the median band of the distinct items the user carted or
      purchased, or of those viewed if none (the lower middle one for an even
      count); null when none of them has a band.

    Output: :data:`~shoprec.schemas.USER_FEATURES` columns.
    """
    base = (
        up_to(events, as_of)
        .groupBy(S.USER_ID)
        .agg(
            F.datediff(F.lit(as_of), F.max(S.EVENT_DATE)).alias("recency_days"),
            F.countDistinct(S.SESSION_ID).alias("frequency"),
            F.count(F.lit(1)).alias("events"),
        )
    )
    purchase = F.col(S.EVENT_TYPE) == S.PURCHASE
    quantity = F.coalesce(F.col(S.QUANTITY), F.lit(1))
    per_item = (
        events.transform(item_events, as_of)
        .groupBy(S.USER_ID, S.ITEM_ID)
        .agg(
            F.count(F.lit(1)).alias("_events"),
            F.sum(is_type(S.ADD_TO_CART, S.PURCHASE)).alias("_kept"),
            F.sum(is_type(S.VIEW)).alias("_viewed"),
            F.sum(F.when(purchase & F.col(S.PRICE).isNotNull(), F.col(S.PRICE) * quantity)).alias(
                "_paid"
            ),
            F.sum(F.when(purchase & F.col(S.PRICE).isNull(), quantity)).alias("_unpriced"),
        )
        .join(
            item_features.select(
                S.ITEM_ID,
                F.col("category_l1").alias("_category"),
                F.col("price_band").alias("_band"),
                F.col(S.PRICE).alias("_catalog_price"),
            ),
            S.ITEM_ID,
            "left",
        )
    )
    value = F.coalesce(F.col("_paid"), F.lit(0.0)) + F.coalesce(
        F.col("_unpriced") * F.col("_catalog_price"), F.lit(0.0)
    )
    money_and_band = per_item.groupBy(S.USER_ID).agg(
        F.sum(value).alias("monetary"),
        F.coalesce(
            _lower_median(F.when(F.col("_kept") > 0, F.col("_band"))),
            _lower_median(F.when(F.col("_viewed") > 0, F.col("_band"))),
        )
        .cast("int")
        .alias("price_band"),
    )
    per_category = (
        per_item.where(F.col("_category").isNotNull())
        .groupBy(S.USER_ID, "_category")
        .agg(F.sum("_events").alias("_n"))
    )
    user = Window.partitionBy(S.USER_ID)
    affinity = (
        per_category.withColumn("_share", F.col("_n") / F.sum("_n").over(user))
        .withColumn(
            "_place",
            F.row_number().over(user.orderBy(F.col("_n").desc(), F.col("_category"))),
        )
        .groupBy(S.USER_ID)
        .agg(
            F.map_from_entries(F.collect_list(F.struct("_category", "_share"))).alias(
                "category_affinity"
            ),
            F.max(F.when(F.col("_place") == 1, F.col("_category"))).alias("top_category"),
        )
    )
    return (
        base.join(money_and_band, S.USER_ID, "left")
        .join(affinity, S.USER_ID, "left")
        .select(
            S.USER_ID,
            "recency_days",
            "frequency",
            F.coalesce(F.col("monetary"), F.lit(0.0)).alias("monetary"),
            "events",
            F.coalesce(F.col("category_affinity"), F.create_map().cast("map<string,double>")).alias(
                "category_affinity"
            ),
            "top_category",
            "price_band",
            F.lit(as_of).alias(S.AS_OF_DATE),
        )
    )
