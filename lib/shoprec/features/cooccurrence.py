"""Silver events -> gold.item_cooccurrence: items that share sessions, both directions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.features._common import item_events

CO_VIEW = "co_view"
CO_CART = "co_cart"
CO_PURCHASE = "co_purchase"
# Which event type makes an item count for each co-occurrence signal.
SIGNALS: Mapping[str, str] = MappingProxyType(
    {CO_VIEW: S.VIEW, CO_CART: S.ADD_TO_CART, CO_PURCHASE: S.PURCHASE}
)
COOCCURRENCE_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {CO_VIEW: 1.0, CO_CART: 3.0, CO_PURCHASE: 5.0}
)


def _session_items(events: DataFrame, *, as_of: dt.date, max_items_per_session: int) -> DataFrame:
    """The last ``max_items_per_session`` distinct items of each session, with signal flags.

    Only views, add-to-carts and purchases count. An item's place in its session is
    its latest such event there (ties: the smaller item id goes first).

    Output: ``session_id``, ``item_id``, one boolean per signal (``co_view``: viewed,
    ``co_cart``: carted, ``co_purchase``: purchased in the session) and
    ``_sessions``: in how many (capped) sessions the item appears.
    """
    if max_items_per_session < 1:
        raise ValueError(f"max_items_per_session must be >= 1, got {max_items_per_session}")
    per_item = (
        events.transform(item_events, as_of)
        .where(F.col(S.EVENT_TYPE).isin(*SIGNALS.values()))
        .groupBy(S.SESSION_ID, S.ITEM_ID)
        .agg(
            F.max(S.EVENT_TS).alias("_last"),
            *[F.max(F.col(S.EVENT_TYPE) == t).alias(sig) for sig, t in SIGNALS.items()],
        )
    )
    latest_first = Window.partitionBy(S.SESSION_ID).orderBy(F.col("_last").desc(), F.col(S.ITEM_ID))
    return (
        per_item.withColumn("_place", F.row_number().over(latest_first))
        .where(F.col("_place") <= max_items_per_session)
        .withColumn("_sessions", F.count(F.lit(1)).over(Window.partitionBy(S.ITEM_ID)))
        .drop("_last", "_place")
    )


def _both(signal: str) -> Column:
    return F.col(f"a.{signal}") & F.col(f"b.{signal}")


def item_cooccurrence(
    events: DataFrame,
    *,
    as_of: dt.date,
    max_items_per_session: int = 50,
    min_count: int = 1,
    weights: Mapping[str, float] = COOCCURRENCE_WEIGHTS,
) -> DataFrame:
    """Count, per ordered pair of distinct items, the sessions where both got a signal.

    ``co_view`` = sessions in which both items were viewed, ``co_cart`` = both
    added to cart, ``co_purchase`` = both purchased. Sessions with more distinct
    items than ``max_items_per_session`` keep only their last ones (see
    :func:`_session_items`), which bounds the session self-join at ``cap**2`` rows
    a session.

    ``score`` is a cosine-style association::

        score(i, j) = (w_view * co_view + w_cart * co_cart + w_purchase * co_purchase)
                      / sqrt(sessions_i * sessions_j)

    where ``sessions_i`` counts the (capped) sessions in which item ``i`` was
    viewed, carted or purchased and ``w_*`` come from ``weights`` (missing keys
    weigh 0). With one signal weighted 1 it is the cosine of the two items'
    session vectors; with several it lies in ``[0, sum(weights)]``. Pairs are
    kept when they share a signal in at least ``min_count`` sessions.

    Output: :data:`~shoprec.schemas.ITEM_COOCCURRENCE` columns; every pair is
    present in both directions with the same counts and score.
    """
    unknown = sorted(set(weights) - set(SIGNALS))
    if unknown:
        raise ValueError(f"unknown co-occurrence weights {unknown}; known: {sorted(SIGNALS)}")
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    items = _session_items(events, as_of=as_of, max_items_per_session=max_items_per_session)
    shared = _both(CO_VIEW) | _both(CO_CART) | _both(CO_PURCHASE)
    pairs = (
        items.alias("a")
        .join(items.alias("b"), S.SESSION_ID)
        .where(F.col(f"a.{S.ITEM_ID}") != F.col(f"b.{S.ITEM_ID}"))
        .groupBy(
            F.col(f"a.{S.ITEM_ID}").alias(S.ITEM_ID),
            F.col(f"b.{S.ITEM_ID}").alias(S.SIMILAR_ITEM_ID),
            F.col("a._sessions").alias("_sessions_i"),
            F.col("b._sessions").alias("_sessions_j"),
        )
        .agg(
            *[F.sum(_both(sig).cast("long")).alias(sig) for sig in SIGNALS],
            F.sum(shared.cast("long")).alias("_together"),
        )
        .where(F.col("_together") >= min_count)
    )
    weighted: Column = F.lit(0.0)
    for sig in SIGNALS:
        weighted = weighted + F.lit(float(weights.get(sig, 0.0))) * F.col(sig)
    norm = F.sqrt(F.col("_sessions_i").cast("double") * F.col("_sessions_j"))
    return pairs.select(
        S.ITEM_ID,
        S.SIMILAR_ITEM_ID,
        CO_VIEW,
        CO_CART,
        CO_PURCHASE,
        (weighted / norm).alias(S.SCORE),
        F.lit(as_of).alias(S.AS_OF_DATE),
    )
