"""Search events -> one row per search, its clicks, and what each result list showed.

In silver a ``search`` event carries the query and the ``results`` shown (item ids in
display order); a ``search_click`` carries the ``search_id`` (the search event's id),
the clicked ``item_id`` and its 1-based ``position``. A click is worth label 2 when
the same session later buys the clicked item, else 1.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.text import normalize_col

LABEL = "label"
CLICKED = "clicked"
CLICK = 1
PURCHASE_AFTER_CLICK = 2


def searches(events: DataFrame) -> DataFrame:
    """One row per search with a non-empty normalized query.

    Output: ``search_id, user_id, session_id, event_ts, event_date, query_norm, results``.
    """
    return (
        events.where(F.col(S.EVENT_TYPE) == S.SEARCH)
        .select(
            F.col(S.EVENT_ID).alias(S.SEARCH_ID),
            S.USER_ID,
            S.SESSION_ID,
            S.EVENT_TS,
            S.EVENT_DATE,
            normalize_col(F.col(S.QUERY)).alias(S.QUERY_NORM),
            F.coalesce(F.col(S.RESULTS), F.array().cast("array<string>")).alias(S.RESULTS),
        )
        .where(F.length(S.QUERY_NORM) > 0)
    )


def search_clicks(events: DataFrame) -> DataFrame:
    """One row per (search, clicked item): ``search_id, item_id, position, label`` (1 or 2).

    Label 2 when the click's session buys the item at or after the click.
    """
    clicks = (
        events.where((F.col(S.EVENT_TYPE) == S.SEARCH_CLICK) & F.col(S.SEARCH_ID).isNotNull())
        .groupBy(S.SEARCH_ID, S.ITEM_ID, S.SESSION_ID)
        .agg(F.min(S.POSITION).alias(S.POSITION), F.min(S.EVENT_TS).alias("_click_ts"))
    )
    bought = (
        events.where(F.col(S.EVENT_TYPE) == S.PURCHASE)
        .groupBy(S.SESSION_ID, S.ITEM_ID)
        .agg(F.max(S.EVENT_TS).alias("_buy_ts"))
    )
    return clicks.join(bought, [S.SESSION_ID, S.ITEM_ID], "left").select(
        S.SEARCH_ID,
        S.ITEM_ID,
        S.POSITION,
        F.when(F.col("_buy_ts") >= F.col("_click_ts"), F.lit(PURCHASE_AFTER_CLICK))
        .otherwise(F.lit(CLICK))
        .alias(LABEL),
    )


def dated_clicks(search_rows: DataFrame, clicks: DataFrame) -> DataFrame:
    """Clicks of the searches in ``search_rows``, each dated by its search.

    ``search_rows`` from :func:`searches`, ``clicks`` from :func:`search_clicks`.
    Output: ``search_id, item_id, position, label, event_date``.
    """
    return clicks.join(search_rows.select(S.SEARCH_ID, S.EVENT_DATE), S.SEARCH_ID)


def dated_before(df: DataFrame, day: dt.date) -> DataFrame:
    """The rows of ``df`` whose ``event_date`` is before ``day``."""
    return df.where(F.col(S.EVENT_DATE) < F.lit(day))


def dated_between(df: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    """The rows of ``df`` whose ``event_date`` is in ``[start, end]`` (both days included)."""
    return df.where((F.col(S.EVENT_DATE) >= F.lit(start)) & (F.col(S.EVENT_DATE) <= F.lit(end)))


def impressions(search_rows: DataFrame, clicks: DataFrame) -> DataFrame:
    """Every shown result: ``query_norm, item_id, position`` (1-based), ``clicked`` (0/1)."""
    shown = search_rows.select(
        S.SEARCH_ID, S.QUERY_NORM, F.posexplode(S.RESULTS).alias("_pos", S.ITEM_ID)
    ).where(F.col(S.ITEM_ID).isNotNull())
    hit = clicks.select(S.SEARCH_ID, S.ITEM_ID, F.lit(1).alias(CLICKED))
    return shown.join(hit, [S.SEARCH_ID, S.ITEM_ID], "left").select(
        S.QUERY_NORM,
        S.ITEM_ID,
        (F.col("_pos") + 1).cast("int").alias(S.POSITION),
        F.coalesce(F.col(CLICKED), F.lit(0)).alias(CLICKED),
    )


def query_item_clicks(search_rows: DataFrame, clicks: DataFrame) -> DataFrame:
    """Clicks per (normalized query, item): ``query_norm, item_id, clicks``."""
    return (
        clicks.join(search_rows.select(S.SEARCH_ID, S.QUERY_NORM), S.SEARCH_ID)
        .groupBy(S.QUERY_NORM, S.ITEM_ID)
        .agg(F.count("*").cast("long").alias("clicks"))
    )
