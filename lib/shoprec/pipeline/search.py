"""The search stages: index, train, publish (the I/O edge of :mod:`shoprec.search`).

Run after ``features`` in the nightly order: ``search_index`` -> ``search_train`` ->
``search_publish``. With D the run date, T = search.test_days, R = search.train_days::

    ... history (features) ... | train labels (R days) | test (T days, ending with D)

* ``search_index``: the catalog snapshot of D -> gold.search_postings, search_terms,
  search_field_stats; logs up to D -> gold.search_query_rewrites, query_categories.
* ``search_train``: LightGBM lambdarank on the train window's searches, features
  learned from the days before it; then the ranker and BM25 alone rank the test
  window's searches with features from the days before the test window. NDCG@10 and
  MRR go to ops.metrics; the model is saved under the lake's ``_models/D/search``.
* ``search_publish``: the head queries of the last search.window_days days, ranked
  by the ranker when it beat BM25 (else BM25, with the reason in the run record),
  and autocomplete suggestions; staged, then published atomically.

Every stage replaces D's partitions or the whole serving table, so a rerun of a date
leaves the same tables. A new shop without enough searched days publishes BM25.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.errors import InputError
from shoprec.evaluation.metrics import metrics_rows
from shoprec.features.items import item_features
from shoprec.lake import Lake
from shoprec.models.scoring import collect_pandas
from shoprec.pipeline.recommend import _events_up_to, _snapshot
from shoprec.pipeline.runs import stage_run, utcnow
from shoprec.pipeline.stages import RunContext, StageReport
from shoprec.search.engine import Index, Learned, SearchModel, candidates, learn, rank_queries
from shoprec.search.features import FEATURES, query_categories
from shoprec.search.index import BM25, build_index
from shoprec.search.logs import query_item_clicks, search_clicks, searches
from shoprec.search.ranker import (
    BM25_MODEL,
    GROUP,
    RANKER_MODEL,
    RankerParams,
    feature_importance,
    label_candidates,
    rank_by_score,
    ranking_metrics,
    score,
    train_ranker,
)
from shoprec.search.suggestions import canonical_queries, head_queries, query_counts, suggestions
from shoprec.search.synonyms import learn_rewrites
from shoprec.serving.publish import publish as publish_tables

PROTOCOL = "search_time_split"
K = 10
INDEX_TABLES = ("gold.search_postings", "gold.search_terms", "gold.search_field_stats")
STAGED = {
    "gold.search_results": "_staged/search_results",
    "gold.query_suggestions": "_staged/query_suggestions",
}


# ===================================================================== helpers
def _search_dir(lake: Lake, day: dt.date) -> Path:
    if "://" in lake.root:
        raise InputError(
            "lake.root: search model artifacts need a local lake until the model registry "
            "(MLflow) lands; use a local lake for search_train/search_publish"
        )
    return Path(lake.root) / "_models" / day.isoformat() / "search"


def publication_file(run_id: str) -> str:
    """Where a publication's :class:`SearchModel` lives, relative to the lake root."""
    return f"_models/search/publications/{run_id}.json"


def read_index(lake: Lake, day: dt.date) -> Index:
    """The index tables of ``day``; InputError when search_index has not run for it."""
    stats = lake.read("gold.search_field_stats").where(F.col(S.AS_OF_DATE) == F.lit(day))
    if not stats.take(1):
        raise InputError(f"gold.search_field_stats: no index for {day}; run search_index first")
    postings, terms = (
        lake.read(n).where(F.col(S.AS_OF_DATE) == F.lit(day)) for n in INDEX_TABLES[:2]
    )
    return Index(postings=postings, terms=terms, stats=stats)


def _logs(events: DataFrame) -> tuple[DataFrame, DataFrame]:
    rows = searches(events).cache()
    clicks = search_clicks(events).join(rows.select(GROUP, S.EVENT_DATE), GROUP).cache()
    return rows, clicks


def _before(df: DataFrame, day: dt.date) -> DataFrame:
    return df.where(F.col(S.EVENT_DATE) < F.lit(day))


def _between(df: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    return df.where((F.col(S.EVENT_DATE) >= F.lit(start)) & (F.col(S.EVENT_DATE) <= F.lit(end)))


def _learned_before(
    ctx: RunContext,
    events: DataFrame,
    rows: DataFrame,
    clicks: DataFrame,
    day: dt.date,
    propensity: dict[int, float] | None = None,
) -> Learned:
    """What the logs dated before ``day`` teach (features for labels on ``day`` and after)."""
    f = ctx.settings.features
    as_of = day - dt.timedelta(days=1)
    items = item_features(
        _snapshot(ctx.lake, as_of),
        _before(events, day),
        as_of=as_of,
        weights=f.event_weights,
        half_life_days=f.half_life_days,
    )
    return learn(
        _before(rows, day),
        _before(clicks, day),
        items,
        as_of=as_of,
        cfg=ctx.settings.search,
        propensity=propensity,
    )


def _per_search(cands: DataFrame, rows: DataFrame) -> DataFrame:
    return rows.select(GROUP, S.QUERY_NORM).join(cands, S.QUERY_NORM)


def _sample_searches(frame: DataFrame, limit: int) -> DataFrame:
    """At most ``limit`` searches, chosen by a hash of their id (the same on every rerun)."""
    ids = frame.select(GROUP).distinct()
    keep = ids.orderBy(F.xxhash64(GROUP), GROUP).limit(limit)
    return frame.join(keep, GROUP)


# ===================================================================== stages
def search_index(ctx: RunContext) -> StageReport:
    """The catalog snapshot of the run date -> the index; logs up to it -> rewrites, categories."""
    report = StageReport("search_index", ctx.run_date)
    lake, day, cfg = ctx.lake, ctx.run_date, ctx.settings.search
    with stage_run(lake, ctx.run_id, day, "search_index") as rec:
        snapshot = _snapshot(lake, day).cache()
        rec.rows_in = snapshot.count()
        outputs = build_index(snapshot, as_of=day)
        events = _events_up_to(lake, day, ctx.settings.features.lookback_days)
        rows, clicks = _logs(events)
        qi = query_item_clicks(rows, clicks).cache()
        outputs["gold.search_query_rewrites"] = learn_rewrites(
            qi,
            as_of=day,
            min_similarity=cfg.rewrite_min_similarity,
            min_shared_clicks=cfg.rewrite_min_shared_clicks,
            max_per_query=cfg.rewrite_max_per_query,
            max_edit_distance=cfg.max_edit_distance,
        )
        outputs["gold.query_categories"] = query_categories(
            qi, snapshot, as_of=day, prior_clicks=cfg.category_prior_clicks
        )
        for name, df in outputs.items():
            lake.replace(df, name, where={S.AS_OF_DATE: day})
            report.tables[name] = lake.read(name).where(F.col(S.AS_OF_DATE) == F.lit(day)).count()
        rec.rows_out = report.tables["gold.search_postings"]
        for df in (snapshot, rows, clicks, qi):
            df.unpersist()
    return report


def _write_trained(out: Path, trained: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "trained.json.tmp"
    tmp.write_text(json.dumps(trained, indent=2, default=str))
    tmp.replace(out / "trained.json")


def search_train(ctx: RunContext) -> StageReport:
    """Train the ranker on the train window; keep it only if it beats BM25 on the test window."""
    report = StageReport("search_train", ctx.run_date)
    lake, day, st = ctx.lake, ctx.run_date, ctx.settings
    cfg = st.search
    test_start = day - dt.timedelta(days=cfg.test_days - 1)
    train_start = test_start - dt.timedelta(days=cfg.train_days)
    out = _search_dir(lake, day)
    with stage_run(lake, ctx.run_id, day, "search_train") as rec:
        index = read_index(lake, day)
        events = _events_up_to(lake, day, st.features.lookback_days).cache()
        rows, clicks = _logs(events)
        clicked = rows.join(clicks.select(GROUP).distinct(), GROUP)
        train_rows = _between(clicked, train_start, test_start - dt.timedelta(days=1))
        test_rows = _between(clicked, test_start, day)
        n_train, n_test = train_rows.count(), test_rows.count()
        has_history = bool(_before(rows, train_start).take(1))
        rec.rows_in = n_train
        if n_train < cfg.min_train_searches or n_test == 0 or not has_history:
            why = (
                f"too little search history to train the ranker: {n_train} clicked searches "
                f"from {train_start} (need {cfg.min_train_searches}), {n_test} to test on, "
                f"history before {train_start}: {'yes' if has_history else 'none'}; "
                "BM25 is published"
            )
            _write_trained(out, {"model": None, "accepted": False, "note": why, "metrics": {}})
            rec.message = report.note(why)
            for df in (events, rows, clicks):
                df.unpersist()
            return report

        # ---- train: features from the days before the train window. Examination by
        # position is a property of the result page, not of a day: estimated once,
        # on everything before the test window, and used for both feature windows.
        at_test = _learned_before(ctx, events, rows, clicks, test_start)
        learned = _learned_before(ctx, events, rows, clicks, train_start, at_test.propensity)
        cands = candidates(train_rows, index, learned, cfg=cfg)
        labelled = label_candidates(_per_search(cands, train_rows), clicks)
        labelled = _sample_searches(labelled, cfg.max_train_searches)
        frame = collect_pandas(labelled.select(GROUP, S.ITEM_ID, "label", *FEATURES))
        params = RankerParams(
            num_trees=cfg.num_trees,
            learning_rate=cfg.learning_rate,
            num_leaves=cfg.num_leaves,
            min_data_in_leaf=cfg.min_data_in_leaf,
            seed=cfg.seed,
        )
        model = train_ranker(frame, features=FEATURES, params=params)

        # ---- test: both rank the later days' searches; features from before them
        test_cands = _per_search(candidates(test_rows, index, at_test, cfg=cfg), test_rows)
        test_cands = test_cands.cache()
        test_clicks = clicks.join(test_rows.select(GROUP), GROUP)
        bm25_ranked = rank_by_score(
            test_cands.withColumn(S.SCORE, F.col(BM25)), key=GROUP, k=cfg.candidates
        )
        ranker_ranked = rank_by_score(
            score(test_cands, model, features=FEATURES), key=GROUP, k=cfg.candidates
        )
        results = {
            BM25_MODEL: ranking_metrics(bm25_ranked, test_clicks, k=K),
            RANKER_MODEL: ranking_metrics(ranker_ranked, test_clicks, k=K),
        }
        gate = f"ndcg@{K}"
        accepted = results[RANKER_MODEL][gate] > results[BM25_MODEL][gate] + cfg.min_improvement
        version = f"{day.isoformat()}:{ctx.run_id}"
        now = utcnow()
        metric_rows: list[dict[str, Any]] = []
        for name, values in results.items():
            metric_rows += metrics_rows(
                values,
                model_name=name,
                model_version=version,
                protocol=PROTOCOL,
                segment="all",
                run_id=ctx.run_id,
                run_date=day,
                recorded_at=now,
            )
        lake.append_rows(metric_rows, "ops.metrics")
        verdict = (
            f"ranker ndcg@{K} {results[RANKER_MODEL][gate]:.4f} vs BM25 "
            f"{results[BM25_MODEL][gate]:.4f}, mrr {results[RANKER_MODEL]['mrr']:.4f} vs "
            f"{results[BM25_MODEL]['mrr']:.4f} on {n_test} searches: "
            + ("ranker published" if accepted else "BM25 published (ranker not better)")
        )
        _write_trained(
            out,
            {
                "model": model,
                "accepted": accepted,
                "note": verdict,
                "version": version,
                "metrics": results,
                "importance": feature_importance(model),
                "train_searches": int(frame[GROUP].nunique()),
            },
        )
        report.counts = {"train_searches": int(frame[GROUP].nunique()), "test_searches": n_test}
        report.notes.append(verdict)
        rec.message = verdict
        rec.rows_out = len(frame)
        rec.model_version = f"{RANKER_MODEL if accepted else BM25_MODEL}@{version}"
        for df in (events, rows, clicks, test_cands):
            df.unpersist()
    return report


def search_publish(ctx: RunContext) -> StageReport:
    """Rank the head queries, build suggestions, stage both, then publish them atomically."""
    report = StageReport("search_publish", ctx.run_date)
    lake, day, st = ctx.lake, ctx.run_date, ctx.settings
    cfg = st.search
    with stage_run(lake, ctx.run_id, day, "search_publish") as rec:
        trained_file = _search_dir(lake, day) / "trained.json"
        if not trained_file.is_file():
            raise InputError(f"search_publish: nothing trained for {day}; run search_train first")
        trained = json.loads(trained_file.read_text())
        model = trained["model"] if trained.get("accepted") else None
        index = read_index(lake, day)
        events = _events_up_to(lake, day, st.features.lookback_days).cache()
        rows, clicks = _logs(events)
        f = st.features
        learned = learn(
            rows,
            clicks,
            item_features(
                _snapshot(lake, day),
                events,
                as_of=day,
                weights=f.event_weights,
                half_life_days=f.half_life_days,
            ),
            as_of=day,
            cfg=cfg,
        )
        learned = dataclasses.replace(
            learned,
            rewrites=lake.read("gold.search_query_rewrites").where(
                F.col(S.AS_OF_DATE) == F.lit(day)
            ),
            categories=lake.read("gold.query_categories").where(F.col(S.AS_OF_DATE) == F.lit(day)),
        )
        window = _between(rows, day - dt.timedelta(days=cfg.window_days - 1), day)
        counts = query_counts(canonical_queries(window, learned.rewrites)).cache()
        head = head_queries(counts, share=cfg.head_share)
        version = f"{day.isoformat()}:{ctx.run_id}"
        served = SearchModel(
            model=model,
            as_of=day,
            version=version,
            prior_ctr=learned.prior_ctr,
            note=str(trained.get("note", "")),
            metrics=dict(trained.get("metrics") or {}),
        )
        results = rank_queries(head, index, learned, model, cfg=cfg, k=cfg.results_per_query)
        staged = {
            "gold.search_results": results.select(
                S.QUERY_NORM,
                S.RANK,
                S.ITEM_ID,
                S.SCORE,
                S.REASON,
                F.lit(served.name).alias(S.MODEL_NAME),
                F.lit(version).alias(S.MODEL_VERSION),
                F.lit(ctx.run_id).alias(S.RUN_ID),
                F.lit(utcnow()).cast("timestamp").alias(S.GENERATED_AT),
            ),
            "gold.query_suggestions": suggestions(
                counts,
                per_prefix=cfg.suggestions_per_prefix,
                min_searches=cfg.suggestion_min_searches,
                max_prefix_chars=cfg.max_prefix_chars,
                run_id=ctx.run_id,
            ),
        }
        frames = {}
        for name, df in staged.items():
            path = lake.file_path(STAGED[name], ctx.run_id)
            df.write.format("delta").mode("overwrite").save(path)
            frames[name] = ctx.spark.read.format("delta").load(path)
        # the model first: a reader who sees the new lists can always find it
        lake.write_json(publication_file(ctx.run_id), served.to_json())
        versions = publish_tables(lake, frames, run_id=ctx.run_id)
        for name in versions:
            report.tables[name] = lake.read(name).count()
        report.counts = {"head_queries": head.count()}
        why = "" if model is not None else f"BM25 served: {served.note}"
        if why:
            report.note(why)
        rec.rows_out = report.tables["gold.search_results"]
        rec.model_version = f"{served.name}@{version}"
        rec.message = (
            (why + "; " if why else "")
            + "versions "
            + ", ".join(f"{n}@{v}" for n, v in versions.items())
        )
        for df in (events, rows, clicks, counts):
            df.unpersist()
    return report
