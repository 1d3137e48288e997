"""Silver events -> gold.interactions: one implicit-feedback row per (user, item)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.features._common import decay, is_type, item_events, type_weight


def interactions(
    events: DataFrame,
    *,
    as_of: dt.date,
    weights: Mapping[str, float],
    half_life_days: float,
) -> DataFrame:
    """Sum each user's time-decayed, type-weighted item events per item.

    ``weight`` = sum over the pair's item events of
    ``weights[event_type] * 0.5 ** (age_days / half_life_days)``, with the age
    measured from the end of ``as_of`` (UTC). Searches carry no item and are
    skipped; ``search_click`` counts with its own weight; types missing from
    ``weights`` weigh 0. ``remove_from_cart`` may weigh less than 0: a pair's total
    is clamped at 0 and pairs whose weight is 0 are dropped.

    Output: :data:`~shoprec.schemas.INTERACTIONS` columns (``events`` = the pair's
    item events, ``purchases`` = its purchase events).
    """
    return (
        events.transform(item_events, as_of)
        .groupBy(S.USER_ID, S.ITEM_ID)
        .agg(
            F.sum(type_weight(weights) * decay(as_of, half_life_days)).alias("_weight"),
            F.count(F.lit(1)).alias("events"),
            F.sum(is_type(S.PURCHASE)).alias("purchases"),
            F.max(S.EVENT_TS).alias("last_event_ts"),
        )
        # Clamping at 0 and dropping zero weights is one rule: keep positive totals.
        .where(F.col("_weight") > 0)
        .select(
            S.USER_ID,
            S.ITEM_ID,
            F.col("_weight").alias(S.WEIGHT),
            "events",
            "purchases",
            "last_event_ts",
            F.lit(as_of).alias(S.AS_OF_DATE),
        )
    )
