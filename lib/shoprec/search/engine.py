"""Search end to end as transforms: what is learned from logs, candidates, scores, reasons.

The nightly stages, the live ``shoprec search`` path and the benchmark all rank through
:func:`rank_queries`, so a published list and a live answer come from the same code.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.config import SearchConfig
from shoprec.search.features import (
    CTR,
    FEATURES,
    candidate_features,
    classify_queries,
    ctr_prior,
    estimate_position_bias,
    expected_examinations,
    item_signals,
    query_categories,
    query_item_ctr,
)
from shoprec.search.index import BM25, bm25_column, bm25_scores, top_by_bm25
from shoprec.search.logs import impressions, query_item_clicks
from shoprec.search.ranker import BM25_MODEL, RANKER_MODEL, rank_by_score, score
from shoprec.search.synonyms import expand_query_terms, learn_rewrites


@dataclass(frozen=True)
class Index:
    """One date's lexical index tables."""

    postings: DataFrame
    terms: DataFrame
    stats: DataFrame


@dataclass(frozen=True)
class Learned:
    """What the logs up to a day teach: rewrites, query categories, CTRs, item signals."""

    rewrites: DataFrame
    categories: DataFrame
    ctr: DataFrame  # query_norm, item_id, clicks, ctr
    prior_ctr: float
    items: DataFrame  # item_signals
    propensity: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchModel:
    """What a publication serves with: the ranker (or none: BM25) and its context.

    Saved as JSON next to each publication so the live path ranks like the
    published lists, also after a restore.
    """

    model: str | None
    as_of: dt.date  # the index and learned tables' date
    version: str
    prior_ctr: float
    features: tuple[str, ...] = FEATURES
    note: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return RANKER_MODEL if self.model is not None else BM25_MODEL

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "as_of": self.as_of.isoformat(),
            "version": self.version,
            "prior_ctr": self.prior_ctr,
            "features": list(self.features),
            "note": self.note,
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchModel:
        return cls(
            model=data.get("model"),
            as_of=dt.date.fromisoformat(data["as_of"]),
            version=str(data["version"]),
            prior_ctr=float(data["prior_ctr"]),
            features=tuple(data.get("features") or FEATURES),
            note=str(data.get("note", "")),
            metrics=dict(data.get("metrics") or {}),
        )

    @classmethod
    def loads(cls, text: str) -> SearchModel:
        return cls.from_json(json.loads(text))


def learn(
    search_rows: DataFrame,
    clicks: DataFrame,
    item_features: DataFrame,
    *,
    as_of: dt.date,
    cfg: SearchConfig,
    propensity: dict[int, float] | None = None,
    rewrites: DataFrame | None = None,
    categories: DataFrame | None = None,
) -> Learned:
    """Rewrites, query categories, bias-corrected CTRs and item signals from logs up to ``as_of``.

    ``search_rows``/``clicks`` from :mod:`shoprec.search.logs`; ``item_features`` in the
    :data:`~shoprec.schemas.ITEM_FEATURES` shape. Two small aggregates reach the
    driver: the examination probability per position and the overall CTR. A given
    ``propensity`` (per position) is used as it is instead of being estimated again;
    so are given ``rewrites`` and ``categories`` (the index stage's gold tables).
    """
    qi = query_item_clicks(search_rows, clicks)
    shown = impressions(search_rows, clicks)
    if propensity is None:
        propensity = estimate_position_bias(shown, iterations=cfg.position_bias_iterations)
    exams = expected_examinations(shown, propensity)
    prior = float(ctr_prior(exams).first()[0])  # type: ignore[index]
    items = item_signals(item_features)
    if rewrites is None:
        rewrites = learn_rewrites(
            qi,
            as_of=as_of,
            min_similarity=cfg.rewrite_min_similarity,
            min_shared_clicks=cfg.rewrite_min_shared_clicks,
            max_per_query=cfg.rewrite_max_per_query,
            max_edit_distance=cfg.max_edit_distance,
        )
    if categories is None:
        categories = query_categories(
            qi, items, as_of=as_of, prior_clicks=cfg.category_prior_clicks
        )
    return Learned(
        rewrites=rewrites,
        categories=categories,
        ctr=query_item_ctr(exams, F.lit(prior), prior_examinations=cfg.ctr_prior_examinations),
        prior_ctr=prior,
        items=items,
        propensity=propensity,
    )


def candidates(
    queries: DataFrame, index: Index, learned: Learned, *, cfg: SearchConfig
) -> DataFrame:
    """Distinct ``query_norm`` -> the BM25 top ``cfg.candidates`` with every ranker feature."""
    q = queries.select(S.QUERY_NORM).distinct()
    terms = expand_query_terms(q, learned.rewrites, synonym_weight=cfg.synonym_weight)
    scores = bm25_scores(
        terms,
        index.postings,
        index.terms,
        index.stats,
        field_weights=cfg.field_weights,
        k1=cfg.bm25_k1,
        b=cfg.bm25_b,
    )
    top = top_by_bm25(scores, n=cfg.candidates).withColumn(
        "prior_ctr", F.lit(float(learned.prior_ctr))
    )
    classes = classify_queries(q, learned.categories)
    return candidate_features(top, learned.items, learned.ctr, classes)


def reason(prior_ctr: float) -> Column:
    """Why an item is in a query's results, from its strongest signal."""
    return (
        F.when(
            (F.col("log_query_clicks") > 0) & (F.col(CTR) > F.lit(prior_ctr)),
            F.lit("often chosen for this search"),
        )
        .when(F.col(bm25_column("title")) > 0, F.lit("title matches"))
        .when(F.col(bm25_column("brand")) > 0, F.lit("brand matches"))
        .when(F.col(bm25_column("category")) > 0, F.lit("category matches"))
        .otherwise(F.lit("description matches"))
    )


def rank_queries(
    queries: DataFrame,
    index: Index,
    learned: Learned,
    model: str | None,
    *,
    cfg: SearchConfig,
    k: int,
    available_only: bool = True,
) -> DataFrame:
    """Ranked results per query: ``query_norm, rank, item_id, score, reason, category_path``.

    Unavailable items are dropped before ranking when ``available_only``; scoring
    runs in executors (:func:`~shoprec.search.ranker.score`).
    """
    cands = candidates(queries, index, learned, cfg=cfg)
    if available_only:
        cands = cands.where(F.col(S.AVAILABLE))
    scored = score(cands, model, features=FEATURES)
    return rank_by_score(scored, key=S.QUERY_NORM, k=k).select(
        S.QUERY_NORM,
        S.RANK,
        S.ITEM_ID,
        S.SCORE,
        reason(learned.prior_ctr).alias(S.REASON),
        S.CATEGORY_PATH,
        BM25,
    )
