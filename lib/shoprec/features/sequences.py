"""Silver events -> gold.user_sequences: each user's latest item events, oldest first."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.features._common import item_events


def user_sequences(events: DataFrame, *, as_of: dt.date, max_len: int = 50) -> DataFrame:
    """The last ``max_len`` item events of each user as parallel arrays, oldest first.

    Item events (searches excluded) are ordered by ``event_ts`` then ``event_id``.
    A view of the same item as the item event just before it (also a view) is a
    repeat and is dropped, so a run of views of one item counts once, at its first
    view; the ``max_len`` cap applies after that.

    Output: :data:`~shoprec.schemas.USER_SEQUENCES` columns (``item_ids``,
    ``event_types``, ``event_ts`` aligned by position).
    """
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    user = Window.partitionBy(S.USER_ID)
    in_order = user.orderBy(S.EVENT_TS, S.EVENT_ID)
    latest_first = user.orderBy(F.col(S.EVENT_TS).desc(), F.col(S.EVENT_ID).desc())
    view = F.col(S.EVENT_TYPE) == S.VIEW
    repeat = (
        view
        & (F.lag(S.EVENT_TYPE).over(in_order) == S.VIEW)
        & (F.lag(S.ITEM_ID).over(in_order) == F.col(S.ITEM_ID))
    )
    steps = F.array_sort(F.collect_list(F.struct(S.EVENT_TS, S.EVENT_ID, S.ITEM_ID, S.EVENT_TYPE)))
    return (
        events.transform(item_events, as_of)
        .withColumn("_repeat", F.coalesce(repeat, F.lit(False)))
        .where(~F.col("_repeat"))
        .withColumn("_back", F.row_number().over(latest_first))
        .where(F.col("_back") <= max_len)
        .groupBy(S.USER_ID)
        .agg(steps.alias("_steps"))
        .select(
            S.USER_ID,
            F.transform("_steps", lambda s: s[S.ITEM_ID]).alias("item_ids"),
            F.transform("_steps", lambda s: s[S.EVENT_TYPE]).alias("event_types"),
            F.transform("_steps", lambda s: s[S.EVENT_TS]).alias("event_ts"),
            F.lit(as_of).alias(S.AS_OF_DATE),
        )
    )
