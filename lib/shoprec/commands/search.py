"""``shoprec search "QUERY" [--user U]``: published results for head queries, else live ranking.

A head query is answered from gold.search_results. Any other query is ranked live over
the lexical index of the served publication's date, with the same normalization, the
learned rewrites and query categories, and the published model (BM25 when the
publication serves BM25). Misspelled words the index does not know are corrected to
the most frequent index term within a small edit distance. With a user, the list is
re-ordered by the user's category affinity (gold.user_features' ``category_affinity``,
the share of their activity per top-level category).

Example::

    rows = search_command(lake, settings, "xiaomi phone", user="u000042", k=10)
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.clean.privacy import pseudonym_of
from shoprec.config import Settings
from shoprec.errors import InputError
from shoprec.features.items import item_features
from shoprec.lake import Lake
from shoprec.search.engine import Learned, SearchModel, rank_queries
from shoprec.search.features import item_signals
from shoprec.search.synonyms import allowed_edits
from shoprec.serving.publish import current_publication, read_published
from shoprec.stages import handoff
from shoprec.stages.inputs import events_up_to, read_index, snapshot
from shoprec.text import normalize_text, tokenize

PUBLISHED = "published"
LIVE = "live"


def served_model(lake: Lake) -> SearchModel:
    """The :class:`SearchModel` of the search publication served now (after any restore)."""
    run_id = current_publication(lake, "gold.search_results")
    if run_id is None:
        raise InputError("gold.search_results: nothing published yet; run search_publish first")
    return SearchModel.from_json(handoff.read_publication(lake, run_id))


def correct_spelling(terms: DataFrame, tokens: list[str], *, max_edit_distance: int) -> list[str]:
    """Each token the index lacks -> the most frequent index term within the allowed edits.

    ``terms``: one date's gold.search_terms. Tokens of CJK text and digits are kept.
    Only the few candidate terms per token reach the driver.
    """
    known = {
        r[0] for r in terms.where(F.col(S.TERM).isin(tokens)).select(S.TERM).distinct().collect()
    }
    out = []
    for tok in tokens:
        if tok in known or not tok.isascii() or not tok.isalpha():
            out.append(tok)
            continue
        t = F.lit(tok)
        best = (
            terms.where(
                (F.abs(F.length(S.TERM) - len(tok)) <= max_edit_distance)
                & (F.levenshtein(S.TERM, t) <= allowed_edits(F.col(S.TERM), t, max_edit_distance))
            )
            .groupBy(S.TERM)
            .agg(F.sum("df").alias("_df"), F.first(F.levenshtein(S.TERM, t)).alias("_d"))
            .orderBy("_d", F.col("_df").desc(), S.TERM)
            .first()
        )
        out.append(best[S.TERM] if best is not None else tok)
    return out


def _latest(df: DataFrame, as_of: Any) -> DataFrame:
    dated = df.where(F.col(S.AS_OF_DATE) <= F.lit(as_of))
    latest = dated.agg(F.max(S.AS_OF_DATE)).first()[0]  # type: ignore[index]
    return dated.where(F.col(S.AS_OF_DATE) == F.lit(latest))


def _learned_for(lake: Lake, settings: Settings, served: SearchModel) -> Learned:
    day = served.as_of
    feats = _latest(lake.read("gold.item_features"), day)
    if not feats.take(1):  # the recommendation features never ran: compute them
        f = settings.features
        feats = item_features(
            snapshot(lake, day),
            events_up_to(lake, day, f.lookback_days),
            as_of=day,
            weights=f.event_weights,
            half_life_days=f.half_life_days,
        )
    spark = lake.spark
    return Learned(
        rewrites=lake.read("gold.search_query_rewrites").where(F.col(S.AS_OF_DATE) == F.lit(day)),
        categories=lake.read("gold.query_categories").where(F.col(S.AS_OF_DATE) == F.lit(day)),
        ctr=spark.createDataFrame([], "query_norm string, item_id string, clicks long, ctr double"),
        prior_ctr=served.prior_ctr,
        items=item_signals(feats),
    )


def _affinity(lake: Lake, settings: Settings, user: str, day: Any) -> dict[str, float]:
    pseudonym = (
        user if user.startswith("p_") else pseudonym_of(user, settings.privacy.resolve_key())
    )
    feats = _latest(lake.read("gold.user_features"), day)
    row = feats.where(F.col(S.USER_ID) == pseudonym).select("category_affinity").first()
    return dict(row[0] or {}) if row is not None else {}


def personalize(
    rows: list[dict[str, Any]], affinity: dict[str, float], *, weight: float, k: int
) -> list[dict[str, Any]]:
    """Re-order a result list: min-max scaled score + ``weight`` x the user's category share.

    ``rows`` need ``score`` and ``category_path``; ranks are renumbered 1..k.
    """
    if not rows:
        return rows
    scores = [float(r[S.SCORE]) for r in rows]
    lo, hi = min(scores), max(scores)
    span = hi - lo if hi > lo else 1.0

    def top(r: dict[str, Any]) -> str:
        return str(r.get(S.CATEGORY_PATH) or "").split("/", 1)[0]

    keyed = []
    for r in rows:
        a = float(affinity.get(top(r), 0.0))
        reason = r[S.REASON] + (f"; you like {top(r)}" if a > 0 and weight > 0 else "")
        keyed.append(((float(r[S.SCORE]) - lo) / span + weight * a, {**r, S.REASON: reason}))
    keyed.sort(key=lambda x: (-x[0], int(x[1][S.RANK])))
    return [{**r, S.RANK: i + 1} for i, (_, r) in enumerate(keyed[:k])]


def search_command(
    lake: Lake, settings: Settings, query: str, user: str | None = None, k: int = 10
) -> list[dict[str, Any]]:
    """Ranked results for ``query``: dicts with rank, item_id, title, score, reason, source.

    ``source`` is "published" (a head query's list from gold.search_results) or "live"
    (ranked now over the index); ``query_norm`` is the query as matched. Raises
    InputError for an empty query or when nothing has been published yet.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    q = normalize_text(query)
    if not q:
        raise InputError(f"query {query!r} has no letters or digits")
    served = served_model(lake)
    cfg = settings.search
    depth = max(k, cfg.results_per_query) if user else k
    catalog = snapshot(lake, served.as_of).select(S.ITEM_ID, S.TITLE, S.CATEGORY_PATH)
    published = (
        read_published(lake, "gold.search_results")
        .where((F.col(S.QUERY_NORM) == q) & (F.col(S.RANK) <= depth))
        .join(catalog, S.ITEM_ID, "left")
    )
    found = [r.asDict() for r in published.orderBy(S.RANK).collect()]
    source = PUBLISHED
    if not found:
        source = LIVE
        index = read_index(lake, served.as_of)
        q = (
            " ".join(
                correct_spelling(index.terms, tokenize(q), max_edit_distance=cfg.max_edit_distance)
            )
            or q
        )
        queries = lake.spark.createDataFrame([(q,)], f"{S.QUERY_NORM} string")
        learned = _learned_for(lake, settings, served)
        ranked = rank_queries(queries, index, learned, served.model, cfg=cfg, k=depth).drop(
            S.CATEGORY_PATH
        )
        found = [
            r.asDict() for r in ranked.join(catalog, S.ITEM_ID, "left").orderBy(S.RANK).collect()
        ]
    if user:
        found = personalize(
            found,
            _affinity(lake, settings, user, served.as_of),
            weight=cfg.personalization_weight,
            k=k,
        )
    keep = (S.RANK, S.ITEM_ID, S.TITLE, S.SCORE, S.REASON)
    return [
        {
            **{c: r.get(c) for c in keep},
            "source": source,
            S.QUERY_NORM: q,
            S.MODEL_NAME: served.name,
        }
        for r in found[:k]
    ]
