"""The lexical index of the catalog as gold tables, and BM25 over weighted fields.

Each item has four fields: ``title``, ``category`` (its category path), ``brand`` and
``description``, tokenized by :func:`~shoprec.text.tokenize`. The index is
three tables per date: postings (term frequency and field length per item),
terms (document frequency and idf per field) and field statistics (documents,
average length). BM25 is computed per field and summed with field weights::

    bm25_f(q, d) = sum_t  w_q(t) * idf_f(t) * tf (k1 + 1) / (tf + k1 (1 - b + b |d_f| / avg_f))
    idf_f(t)     = ln(1 + (N_f - df_f(t) + 0.5) / (df_f(t) + 0.5))
    bm25(q, d)   = sum_f  weight_f * bm25_f(q, d)

Scoring is a join of query terms with postings, run in executors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.search.synonyms import QWEIGHT
from shoprec.text import tokens_col

FIELDS: tuple[str, ...] = ("title", "category", "brand", "description")
BM25 = "bm25"
BM25_RANK = "bm25_rank"


def bm25_column(field: str) -> str:
    """The per-field score column: ``bm25_title`` ..."""
    return f"{BM25}_{field}"


def field_texts(items: DataFrame) -> DataFrame:
    """Catalog rows -> ``(item_id, field, text)``, one row per item and field."""
    texts = {
        "title": F.col(S.TITLE),
        "category": F.regexp_replace(F.col(S.CATEGORY_PATH), "[/_]", " "),
        "brand": F.col(S.BRAND),
        "description": F.col(S.DESCRIPTION),
    }
    return items.select(
        S.ITEM_ID,
        F.explode(
            F.array(*[F.struct(F.lit(f).alias(S.FIELD), texts[f].alias("text")) for f in FIELDS])
        ).alias("_f"),
    ).select(S.ITEM_ID, "_f.*")


def build_index(items: DataFrame, *, as_of: dt.date) -> dict[str, DataFrame]:
    """Catalog snapshot -> the three index tables of ``as_of``, keyed by table name.

    ``items`` needs ``item_id, title, description, category_path, brand``. An item
    is a document of every field; an empty or null field has length 0.
    """
    docs = (
        field_texts(items)
        .withColumn("_tokens", F.coalesce(tokens_col(F.col("text")), F.array()))
        .select(S.ITEM_ID, S.FIELD, "_tokens", F.size("_tokens").cast("int").alias(S.DOC_LEN))
    )
    postings = (
        docs.select(S.FIELD, S.ITEM_ID, S.DOC_LEN, F.explode("_tokens").alias(S.TERM))
        .groupBy(S.FIELD, S.TERM, S.ITEM_ID)
        .agg(F.count("*").cast("int").alias(S.TF), F.first(S.DOC_LEN).alias(S.DOC_LEN))
        .withColumn(S.AS_OF_DATE, F.lit(as_of))
    )
    stats = (
        docs.groupBy(S.FIELD)
        .agg(F.count("*").alias("n_docs"), F.avg(S.DOC_LEN).alias("avg_len"))
        .withColumn(S.AS_OF_DATE, F.lit(as_of))
    )
    terms = (
        postings.groupBy(S.FIELD, S.TERM)
        .agg(F.count("*").alias("df"))
        .join(F.broadcast(stats.select(S.FIELD, "n_docs")), S.FIELD)
        .select(
            S.FIELD,
            S.TERM,
            "df",
            F.log(1 + (F.col("n_docs") - F.col("df") + 0.5) / (F.col("df") + 0.5)).alias("idf"),
            F.lit(as_of).alias(S.AS_OF_DATE),
        )
    )
    return {
        "gold.search_postings": postings.select(*S.SEARCH_POSTINGS.fieldNames()),
        "gold.search_terms": terms,
        "gold.search_field_stats": stats.select(*S.SEARCH_FIELD_STATS.fieldNames()),
    }


def bm25_scores(
    query_terms: DataFrame,
    postings: DataFrame,
    terms: DataFrame,
    stats: DataFrame,
    *,
    field_weights: Mapping[str, float],
    k1: float,
    b: float,
) -> DataFrame:
    """BM25 of every (query, item) sharing a term: per field and weighted total.

    ``query_terms``: ``(query_norm, term, qweight)``; the index frames are one date's.
    Output: ``query_norm, item_id, bm25_title, bm25_category, bm25_brand,
    bm25_description, bm25``; fields without a weight score 0 and are not looked up.
    """
    fields = [f for f in FIELDS if field_weights.get(f, 0.0) > 0]
    if not fields:
        raise ValueError("field_weights: at least one field needs a positive weight")
    tf, dl = F.col(S.TF), F.col(S.DOC_LEN)
    norm = F.lit(k1) * (1 - b + b * dl / F.greatest(F.col("avg_len"), F.lit(1e-9)))
    part = F.col(QWEIGHT) * F.col("idf") * tf * (k1 + 1) / (tf + norm)
    scored = (
        query_terms.join(postings.where(F.col(S.FIELD).isin(fields)), S.TERM)
        .join(terms.select(S.FIELD, S.TERM, "idf"), [S.FIELD, S.TERM])
        .join(F.broadcast(stats.select(S.FIELD, "avg_len")), S.FIELD)
        .groupBy(S.QUERY_NORM, S.ITEM_ID)
        .agg(
            *[
                F.sum(F.when(F.col(S.FIELD) == f, part).otherwise(0.0)).alias(bm25_column(f))
                for f in fields
            ]
        )
    )
    for f in FIELDS:
        if f not in fields:
            scored = scored.withColumn(bm25_column(f), F.lit(0.0))
    total = sum(
        (F.lit(float(field_weights[f])) * F.col(bm25_column(f)) for f in fields), F.lit(0.0)
    )
    return scored.withColumn(BM25, total).select(
        S.QUERY_NORM, S.ITEM_ID, *[bm25_column(f) for f in FIELDS], BM25
    )


def top_by_bm25(scores: DataFrame, *, n: int) -> DataFrame:
    """The ``n`` best items per query by BM25 (ties by item id), with ``bm25_rank`` 1..n."""
    w = Window.partitionBy(S.QUERY_NORM).orderBy(F.col(BM25).desc(), S.ITEM_ID)
    return (
        scores.withColumn(BM25_RANK, F.row_number().over(w))
        .where(F.col(BM25_RANK) <= n)
        .withColumn(BM25_RANK, F.col(BM25_RANK).cast("int"))
    )
