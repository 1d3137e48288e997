"""Head queries (what gold.search_results precomputes) and autocomplete suggestions."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.search.synonyms import SPELLING


def canonical_queries(search_rows: DataFrame, rewrites: DataFrame) -> DataFrame:
    """``search_rows`` with ``query_norm`` replaced by its spelling's canonical form, if any.

    A typo that users' clicks show to mean another query counts towards that query
    (the best spelling rewrite by similarity wins).
    """
    best = Window.partitionBy(S.QUERY_NORM).orderBy(F.col("similarity").desc(), S.RELATED_QUERY)
    fix = (
        rewrites.where(F.col(S.RELATION) == SPELLING)
        .withColumn("_r", F.row_number().over(best))
        .where(F.col("_r") == 1)
        .select(S.QUERY_NORM, F.col(S.RELATED_QUERY).alias("_fixed"))
    )
    return (
        search_rows.join(fix, S.QUERY_NORM, "left")
        .withColumn(S.QUERY_NORM, F.coalesce("_fixed", S.QUERY_NORM))
        .drop("_fixed")
    )


def query_counts(search_rows: DataFrame) -> DataFrame:
    """``(query_norm, searches)``: searches per normalized query."""
    return search_rows.groupBy(S.QUERY_NORM).agg(F.count("*").cast("long").alias(S.SEARCHES))


def head_queries(counts: DataFrame, *, share: float) -> DataFrame:
    """The most searched queries that together make up at least ``share`` of all searches.

    Queries are taken by count (ties by the query text) until the running total
    reaches ``share`` of the total; the query that crosses it is included.
    Output: ``query_norm, searches``. The window runs over one partition, which is
    fine for the distinct queries of a shop (one row each).
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    order = Window.orderBy(F.col(S.SEARCHES).desc(), S.QUERY_NORM)
    before = F.sum(S.SEARCHES).over(order.rowsBetween(Window.unboundedPreceding, -1))
    total = F.sum(S.SEARCHES).over(Window.partitionBy())
    return (
        counts.withColumn("_before", F.coalesce(before, F.lit(0)))
        .withColumn("_total", total)
        .where(F.col("_before") < F.lit(share) * F.col("_total"))
        .select(S.QUERY_NORM, S.SEARCHES)
    )


def suggestions(
    counts: DataFrame, *, per_prefix: int, min_searches: int, max_prefix_chars: int, run_id: str
) -> DataFrame:
    """Autocomplete: for every prefix of a popular query, its most searched completions.

    Queries with fewer than ``min_searches`` searches are left out (rare queries are
    often typos or personal). Prefixes run from 1 to ``max_prefix_chars`` characters
    of the normalized query (a CJK query's prefixes are its first characters).
    Output: :data:`~shoprec.schemas.QUERY_SUGGESTIONS` columns.
    """
    popular = counts.where(F.col(S.SEARCHES) >= min_searches)
    n = F.least(F.length(S.QUERY_NORM), F.lit(max_prefix_chars))
    prefixes = popular.select(
        S.QUERY_NORM,
        S.SEARCHES,
        F.explode(F.sequence(F.lit(1), n)).alias("_len"),
    ).select(
        F.rtrim(F.col(S.QUERY_NORM).substr(F.lit(1), F.col("_len"))).alias(S.PREFIX),
        S.QUERY_NORM,
        S.SEARCHES,
    )
    w = Window.partitionBy(S.PREFIX).orderBy(F.col(S.SEARCHES).desc(), S.QUERY_NORM)
    return (
        prefixes.dropDuplicates([S.PREFIX, S.QUERY_NORM])
        .withColumn(S.RANK, F.row_number().over(w).cast("int"))
        .where(F.col(S.RANK) <= per_prefix)
        .select(S.PREFIX, S.RANK, S.QUERY_NORM, S.SEARCHES, F.lit(run_id).alias(S.RUN_ID))
    )
