"""Spelling variants and synonyms learned from the logs: queries whose clicks land on the same items.

Two normalized queries are related when the cosine similarity of their click vectors
(clicks per item) is high and they share enough clicks. A related query within a
small edit distance is a *spelling* variant ("smartphnoe" -> "smartphone"); any other
is a *synonym* ("trainers" ~ "sneakers", "手机" ~ "smartphone"). At query time a
query is expanded with its related queries' terms (:func:`expand_query_terms`).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.text import tokens_col

SPELLING = "spelling"
SYNONYM = "synonym"
QWEIGHT = "qweight"
# An item clicked for very many distinct queries contributes its most-clicked ones
# only, so the self-join stays linear in the log size.
MAX_QUERIES_PER_ITEM = 100


def allowed_edits(a: Column, b: Column, max_edit_distance: int) -> Column:
    """Edits a spelling variant may differ by: one per 4 characters, at most the maximum."""
    return F.least(F.lit(max_edit_distance), F.floor(F.greatest(F.length(a), F.length(b)) / 4))


def learn_rewrites(
    query_item_clicks: DataFrame,
    *,
    as_of: dt.date,
    min_similarity: float,
    min_shared_clicks: int,
    max_per_query: int,
    max_edit_distance: int,
) -> DataFrame:
    """``(query_norm, item_id, clicks)`` -> :data:`~shoprec.schemas.SEARCH_QUERY_REWRITES`.

    For each query, up to ``max_per_query`` related queries by similarity (cosine of
    click vectors, 0..1) with at least ``min_shared_clicks`` shared clicks (sum over
    items of the smaller click count). A spelling variant is only kept towards the
    more searched query (the typo points at the canonical spelling, not back).
    """
    qi = query_item_clicks.where(F.col("clicks") > 0)
    per_item = Window.partitionBy(S.ITEM_ID).orderBy(F.col("clicks").desc(), S.QUERY_NORM)
    qi = qi.withColumn("_r", F.row_number().over(per_item)).where(
        F.col("_r") <= MAX_QUERIES_PER_ITEM
    )
    norms = query_item_clicks.groupBy(S.QUERY_NORM).agg(
        F.sqrt(F.sum(F.col("clicks") * F.col("clicks"))).alias("_norm"),
        F.sum("clicks").alias("_total"),
    )
    a = qi.select(S.QUERY_NORM, S.ITEM_ID, F.col("clicks").alias("_ca"))
    b = qi.select(
        F.col(S.QUERY_NORM).alias(S.RELATED_QUERY), S.ITEM_ID, F.col("clicks").alias("_cb")
    )
    na = norms.select(S.QUERY_NORM, F.col("_norm").alias("_na"), F.col("_total").alias("_ta"))
    nb = norms.select(
        F.col(S.QUERY_NORM).alias(S.RELATED_QUERY),
        F.col("_norm").alias("_nb"),
        F.col("_total").alias("_tb"),
    )
    pairs = (
        a.join(b, S.ITEM_ID)
        .where(F.col(S.QUERY_NORM) != F.col(S.RELATED_QUERY))
        .groupBy(S.QUERY_NORM, S.RELATED_QUERY)
        .agg(
            F.sum(F.col("_ca") * F.col("_cb")).alias("_dot"),
            F.sum(F.least("_ca", "_cb")).cast("long").alias("shared_clicks"),
        )
        .join(na, S.QUERY_NORM)
        .join(nb, S.RELATED_QUERY)
        .withColumn("similarity", F.col("_dot") / (F.col("_na") * F.col("_nb")))
        .where(
            (F.col("similarity") >= min_similarity) & (F.col("shared_clicks") >= min_shared_clicks)
        )
    )
    q, r = F.col(S.QUERY_NORM), F.col(S.RELATED_QUERY)
    close = F.levenshtein(q, r) <= allowed_edits(q, r, max_edit_distance)
    towards_canonical = (F.col("_tb") > F.col("_ta")) | ((F.col("_tb") == F.col("_ta")) & (r < q))
    best = Window.partitionBy(S.QUERY_NORM).orderBy(
        F.col("similarity").desc(), F.col("shared_clicks").desc(), S.RELATED_QUERY
    )
    return (
        pairs.withColumn(S.RELATION, F.when(close, F.lit(SPELLING)).otherwise(F.lit(SYNONYM)))
        .where((F.col(S.RELATION) == SYNONYM) | towards_canonical)
        .withColumn("_rank", F.row_number().over(best))
        .where(F.col("_rank") <= max_per_query)
        .select(
            S.QUERY_NORM,
            S.RELATED_QUERY,
            S.RELATION,
            F.least(F.col("similarity"), F.lit(1.0)).alias("similarity"),
            "shared_clicks",
            F.lit(as_of).alias(S.AS_OF_DATE),
        )
    )


def expand_query_terms(
    queries: DataFrame, rewrites: DataFrame, *, synonym_weight: float
) -> DataFrame:
    """``(query_norm)`` -> ``(query_norm, term, qweight)``: its own terms and its rewrites'.

    Own terms weigh 1; a spelling variant's terms weigh its similarity; a synonym's
    weigh ``synonym_weight`` times its similarity. A term keeps its highest weight.
    """
    q = queries.select(S.QUERY_NORM).distinct()
    own = q.select(S.QUERY_NORM, F.col(S.QUERY_NORM).alias("_text"), F.lit(1.0).alias(QWEIGHT))
    related = q.join(rewrites, S.QUERY_NORM).select(
        S.QUERY_NORM,
        F.col(S.RELATED_QUERY).alias("_text"),
        (
            F.col("similarity")
            * F.when(F.col(S.RELATION) == SPELLING, F.lit(1.0)).otherwise(F.lit(synonym_weight))
        ).alias(QWEIGHT),
    )
    return (
        own.unionByName(related)
        .select(S.QUERY_NORM, F.explode(tokens_col(F.col("_text"))).alias(S.TERM), QWEIGHT)
        .groupBy(S.QUERY_NORM, S.TERM)
        .agg(F.max(QWEIGHT).alias(QWEIGHT))
        .where(F.col(QWEIGHT) > 0)
    )
