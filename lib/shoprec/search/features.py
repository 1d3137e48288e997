"""Ranker features: position-bias-corrected click-through rates, the query's category, item stats.

Position bias. Users look at the top of a result list more than its bottom, so raw
click-through rates favour whatever was ranked high. Under the position-based click
model ``P(click | q, d, k) = p(k) * r(q, d)``, :func:`estimate_position_bias` fits the
examination probability ``p(k)`` (``p(1) = 1``) by alternating the two closed-form
updates of the model's least-squares fit over every (query, item, position) shown,
which uses the same item shown at different positions as a natural experiment.
:func:`query_item_ctr` then divides clicks by expected examinations, not by
impressions.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.search.index import BM25, BM25_RANK, FIELDS, bm25_column
from shoprec.search.logs import CLICKED
from shoprec.text import tokens_col

QUERY = "query"
TERM_KIND = "term"
CTR = "ctr"
CATEGORY_PROB = "category_prob"
IN_QUERY_CATEGORY = "in_query_category"
FEATURES: tuple[str, ...] = (
    *[bm25_column(f) for f in FIELDS],
    BM25,
    BM25_RANK,
    "log_popularity",
    "conversion_rate",
    CTR,
    "log_query_clicks",
    "log_price",
    "price_vs_category",
    CATEGORY_PROB,
    IN_QUERY_CATEGORY,
)


# ================================================================ position bias
def estimate_position_bias(impressions: DataFrame, *, iterations: int) -> dict[int, float]:
    """Examination probability per 1-based position, ``p(1) = 1``; each 0..1 (capped).

    ``impressions``: ``query_norm, item_id, position, clicked`` (0/1), one row per
    shown result. An aggregate like a metric: only one value per position reaches
    the driver. Positions never clicked get 0 (nobody looks there).
    """
    counts = (
        impressions.groupBy(S.QUERY_NORM, S.ITEM_ID, S.POSITION)
        .agg(F.count("*").alias("_n"), F.sum(CLICKED).alias("_c"))
        .cache()
    )
    try:
        positions = sorted(int(r[0]) for r in counts.select(S.POSITION).distinct().collect())
        p = {k: 1.0 / k for k in positions}
        for _ in range(iterations):
            pk = _map_col(p, F.col(S.POSITION))
            rel = counts.groupBy(S.QUERY_NORM, S.ITEM_ID).agg(
                (F.sum(F.col("_c") * pk) / F.sum(F.col("_n") * pk * pk)).alias("_r")
            )
            est = (
                counts.join(rel, [S.QUERY_NORM, S.ITEM_ID])
                .groupBy(S.POSITION)
                .agg(
                    (
                        F.sum(F.col("_c") * F.col("_r"))
                        / F.sum(F.col("_n") * F.col("_r") * F.col("_r"))
                    ).alias("_p")
                )
                .collect()
            )
            raw = {int(r[S.POSITION]): float(r["_p"] or 0.0) for r in est}
            top = raw.get(min(raw), 0.0) if raw else 0.0
            if top <= 0:
                break
            p = {k: min(1.0, max(0.0, raw.get(k, 0.0) / top)) for k in positions}
        return p
    finally:
        counts.unpersist()


def _map_col(values: dict[int, float], key: Column) -> Column:
    if not values:
        return F.lit(0.0)
    pairs = [x for k, v in sorted(values.items()) for x in (F.lit(k), F.lit(float(v)))]
    return F.coalesce(F.create_map(*pairs)[key], F.lit(0.0))


def expected_examinations(impressions: DataFrame, propensity: dict[int, float]) -> DataFrame:
    """``(query_norm, item_id, clicks, examinations)``: clicks and sum of p(position) shown."""
    return impressions.groupBy(S.QUERY_NORM, S.ITEM_ID).agg(
        F.sum(CLICKED).cast("long").alias("clicks"),
        F.sum(_map_col(propensity, F.col(S.POSITION))).alias("examinations"),
    )


def ctr_prior(exams: DataFrame) -> DataFrame:
    """One row, ``prior_ctr``: all clicks over all expected examinations (0..1)."""
    return exams.agg(
        F.coalesce(
            F.sum("clicks") / F.greatest(F.sum("examinations"), F.lit(1e-9)), F.lit(0.0)
        ).alias("prior_ctr")
    )


def query_item_ctr(exams: DataFrame, prior_ctr: Column, *, prior_examinations: float) -> DataFrame:
    """Bias-corrected, smoothed CTR: ``(clicks + m * prior) / (examinations + m)``.

    ``exams`` from :func:`expected_examinations`; ``prior_ctr`` a column or literal.
    Output: ``query_norm, item_id, clicks, ctr``.
    """
    m = float(prior_examinations)
    return exams.select(
        S.QUERY_NORM,
        S.ITEM_ID,
        "clicks",
        ((F.col("clicks") + m * prior_ctr) / (F.col("examinations") + m)).alias(CTR),
    )


# ============================================================ query -> category
def query_categories(
    query_item_clicks: DataFrame, items: DataFrame, *, as_of: dt.date, prior_clicks: float
) -> DataFrame:
    """Clicks -> :data:`~shoprec.schemas.QUERY_CATEGORIES`, per query and per query term.

    ``probability = clicks(key, category) / (clicks(key) + prior_clicks)``: a share of
    the key's clicks, shrunk towards 0 when the key has few. Term rows let a query
    never seen before be classified from its words (:func:`classify_queries`).
    """
    with_cat = query_item_clicks.join(items.select(S.ITEM_ID, S.CATEGORY_PATH), S.ITEM_ID).where(
        F.col(S.CATEGORY_PATH).isNotNull()
    )
    by_query = with_cat.select(
        F.col(S.QUERY_NORM).alias("key"), F.lit(QUERY).alias("key_kind"), S.CATEGORY_PATH, "clicks"
    )
    by_term = with_cat.select(
        F.explode(F.array_distinct(tokens_col(F.col(S.QUERY_NORM)))).alias("key"),
        F.lit(TERM_KIND).alias("key_kind"),
        S.CATEGORY_PATH,
        "clicks",
    )
    per_cat = (
        by_query.unionByName(by_term)
        .groupBy("key_kind", "key", S.CATEGORY_PATH)
        .agg(F.sum("clicks").cast("long").alias("clicks"))
    )
    total = F.sum("clicks").over(Window.partitionBy("key_kind", "key"))
    return per_cat.select(
        "key",
        "key_kind",
        S.CATEGORY_PATH,
        (F.col("clicks") / (total + F.lit(float(prior_clicks)))).alias("probability"),
        "clicks",
        F.lit(as_of).alias(S.AS_OF_DATE),
    )


def classify_queries(queries: DataFrame, categories: DataFrame) -> DataFrame:
    """``(query_norm)`` -> ``(query_norm, category_path, probability)``.

    A query seen in the logs takes its own distribution; any other query the mean of
    its terms' distributions (a term never clicked contributes nothing).
    """
    q = queries.select(S.QUERY_NORM).distinct()
    own = q.join(
        categories.where(F.col("key_kind") == QUERY).select(
            F.col("key").alias(S.QUERY_NORM), S.CATEGORY_PATH, "probability"
        ),
        S.QUERY_NORM,
    )
    unseen = q.join(own.select(S.QUERY_NORM).distinct(), S.QUERY_NORM, "left_anti")
    toks = unseen.select(
        S.QUERY_NORM, F.explode(F.array_distinct(tokens_col(F.col(S.QUERY_NORM)))).alias("key")
    )
    n_terms = toks.groupBy(S.QUERY_NORM).agg(F.count("*").alias("_n"))
    by_terms = (
        toks.join(
            categories.where(F.col("key_kind") == TERM_KIND).select(
                "key", S.CATEGORY_PATH, "probability"
            ),
            "key",
        )
        .groupBy(S.QUERY_NORM, S.CATEGORY_PATH)
        .agg(F.sum("probability").alias("_p"))
        .join(n_terms, S.QUERY_NORM)
        .select(S.QUERY_NORM, S.CATEGORY_PATH, (F.col("_p") / F.col("_n")).alias("probability"))
    )
    return own.unionByName(by_terms)


# ================================================================= the features
def item_signals(item_features: DataFrame) -> DataFrame:
    """gold.item_features rows -> per item: category, availability and ranker signals."""
    median = F.percentile_approx(S.PRICE, 0.5).over(Window.partitionBy(S.CATEGORY_PATH))
    return item_features.select(
        S.ITEM_ID,
        S.CATEGORY_PATH,
        S.AVAILABLE,
        F.log1p(F.greatest(F.col("popularity"), F.lit(0.0))).alias("log_popularity"),
        F.col("conversion_rate"),
        F.log1p(F.greatest(F.col(S.PRICE), F.lit(0.0))).alias("log_price"),
        F.log(F.col(S.PRICE) / median).alias("price_vs_category"),
    )


def candidate_features(
    candidates: DataFrame, items: DataFrame, ctr: DataFrame, classes: DataFrame
) -> DataFrame:
    """BM25 candidates joined with every other feature; missing values become neutral.

    ``candidates`` from :func:`~shoprec.search.index.top_by_bm25`; ``items`` from
    :func:`item_signals`; ``ctr`` from :func:`query_item_ctr` plus a ``prior_ctr``
    column on ``candidates`` for pairs without history; ``classes`` from
    :func:`classify_queries`. Output: the candidates' columns, ``category_path``,
    ``available`` and :data:`FEATURES`.
    """
    top_class = Window.partitionBy(S.QUERY_NORM).orderBy(
        F.col("probability").desc(), S.CATEGORY_PATH
    )
    best = (
        classes.withColumn("_r", F.row_number().over(top_class))
        .where(F.col("_r") == 1)
        .select(S.QUERY_NORM, F.col(S.CATEGORY_PATH).alias("_top_category"))
    )
    return (
        candidates.join(items, S.ITEM_ID, "left")
        .join(ctr.select(S.QUERY_NORM, S.ITEM_ID, "clicks", CTR), [S.QUERY_NORM, S.ITEM_ID], "left")
        .join(classes, [S.QUERY_NORM, S.CATEGORY_PATH], "left")
        .join(best, S.QUERY_NORM, "left")
        .select(
            *candidates.columns,
            S.CATEGORY_PATH,
            F.coalesce(F.col(S.AVAILABLE), F.lit(False)).alias(S.AVAILABLE),
            F.coalesce("log_popularity", F.lit(0.0)).alias("log_popularity"),
            F.coalesce("conversion_rate", F.lit(0.0)).alias("conversion_rate"),
            F.coalesce(CTR, F.col("prior_ctr")).alias(CTR),
            F.log1p(F.coalesce(F.col("clicks"), F.lit(0))).alias("log_query_clicks"),
            F.coalesce("log_price", F.lit(0.0)).alias("log_price"),
            F.coalesce("price_vs_category", F.lit(0.0)).alias("price_vs_category"),
            F.coalesce("probability", F.lit(0.0)).alias(CATEGORY_PROB),
            (F.col(S.CATEGORY_PATH) == F.col("_top_category"))
            .cast("double")
            .alias(IN_QUERY_CATEGORY),
        )
        .fillna({IN_QUERY_CATEGORY: 0.0})
    )
