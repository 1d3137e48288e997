"""The search_train stage: a LightGBM ranker, kept only when it beats BM25 on later searches.

With D the run date, T = search.test_days, R = search.train_days::

    ... history (features) ... | train labels (R days) | test (T days, ending with D)

LightGBM lambdarank learns from the train window's searches, with features learned
from the days before it; then the ranker and BM25 alone rank the test window's
searches with features from the days before the test window. NDCG@10 and MRR go to
ops.metrics; the ranker, its verdict and metrics to the night's hand-off file for
search_publish (:mod:`shoprec.stages.handoff`). A new shop without enough searched
days trains nothing, and BM25 is published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import partial
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.config import SearchConfig
from shoprec.evaluation.metrics import metrics_rows
from shoprec.features.items import item_features
from shoprec.models.scoring import collect_pandas
from shoprec.search.engine import Learned, candidates, learn
from shoprec.search.features import FEATURES
from shoprec.search.index import BM25
from shoprec.search.logs import (
    dated_before,
    dated_between,
    dated_clicks,
    search_clicks,
    searches,
)
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
from shoprec.stages import handoff
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.inputs import events_up_to, read_index, snapshot
from shoprec.stages.runs import stage_run, utcnow

PROTOCOL = "search_time_split"
K = 10


def _learned_before(
    catalog: DataFrame,
    events: DataFrame,
    rows: DataFrame,
    clicks: DataFrame,
    day: dt.date,
    *,
    weights: Mapping[str, float],
    half_life_days: float,
    cfg: SearchConfig,
    propensity: dict[int, float] | None = None,
) -> Learned:
    """What the logs dated before ``day`` teach (features for labels on ``day`` and after).

    ``catalog``: the catalog snapshot of the day before ``day``.
    """
    as_of = day - dt.timedelta(days=1)
    items = item_features(
        catalog,
        dated_before(events, day),
        as_of=as_of,
        weights=weights,
        half_life_days=half_life_days,
    )
    return learn(
        dated_before(rows, day),
        dated_before(clicks, day),
        items,
        as_of=as_of,
        cfg=cfg,
        propensity=propensity,
    )


def _per_search(cands: DataFrame, rows: DataFrame) -> DataFrame:
    return rows.select(GROUP, S.QUERY_NORM).join(cands, S.QUERY_NORM)


def _sample_searches(frame: DataFrame, limit: int) -> DataFrame:
    """At most ``limit`` searches, chosen by a hash of their id (the same on every rerun)."""
    ids = frame.select(GROUP).distinct()
    keep = ids.orderBy(F.xxhash64(GROUP), GROUP).limit(limit)
    return frame.join(keep, GROUP)


def search_train(ctx: RunContext) -> StageReport:
    """Train the ranker on the train window; keep it only if it beats BM25 on the test window."""
    report = StageReport("search_train", ctx.run_date)
    lake, day, st = ctx.lake, ctx.run_date, ctx.settings
    cfg, f = st.search, st.features
    test_start = day - dt.timedelta(days=cfg.test_days - 1)
    train_start = test_start - dt.timedelta(days=cfg.train_days)
    with stage_run(ctx, "search_train") as rec:
        index = read_index(lake, day)
        events = events_up_to(lake, day, f.lookback_days).cache()
        rows = searches(events).cache()
        clicks = dated_clicks(rows, search_clicks(events)).cache()
        clicked = rows.join(clicks.select(GROUP).distinct(), GROUP)
        train_rows = dated_between(clicked, train_start, test_start - dt.timedelta(days=1))
        test_rows = dated_between(clicked, test_start, day)
        n_train, n_test = train_rows.count(), test_rows.count()
        has_history = bool(dated_before(rows, train_start).take(1))
        rec.rows_in = n_train
        if n_train < cfg.min_train_searches or n_test == 0 or not has_history:
            why = (
                f"too little search history to train the ranker: {n_train} clicked searches "
                f"from {train_start} (need {cfg.min_train_searches}), {n_test} to test on, "
                f"history before {train_start}: {'yes' if has_history else 'none'}; "
                "BM25 is published"
            )
            handoff.write_search_trained(
                lake, day, {"model": None, "accepted": False, "note": why, "metrics": {}}
            )
            rec.message = report.note(why)
            for df in (events, rows, clicks):
                df.unpersist()
            return report

        # ---- train: features from the days before the train window. Examination by
        # position is a property of the result page, not of a day: estimated once,
        # on everything before the test window, and used for both feature windows.
        catalog_at_test = snapshot(lake, test_start - dt.timedelta(days=1))
        catalog_at_train = snapshot(lake, train_start - dt.timedelta(days=1))
        learn_before = partial(
            _learned_before,
            events=events,
            rows=rows,
            clicks=clicks,
            weights=f.event_weights,
            half_life_days=f.half_life_days,
            cfg=cfg,
        )
        at_test = learn_before(catalog_at_test, day=test_start)
        learned = learn_before(catalog_at_train, day=train_start, propensity=at_test.propensity)
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
        verdict = (
            f"ranker ndcg@{K} {results[RANKER_MODEL][gate]:.4f} vs BM25 "
            f"{results[BM25_MODEL][gate]:.4f}, mrr {results[RANKER_MODEL]['mrr']:.4f} vs "
            f"{results[BM25_MODEL]['mrr']:.4f} on {n_test} searches: "
            + ("ranker published" if accepted else "BM25 published (ranker not better)")
        )

        # ---- write: metric rows, then the ranker and its verdict for search_publish
        lake.append_rows(metric_rows, "ops.metrics")
        handoff.write_search_trained(
            lake,
            day,
            {
                "model": model,
                "accepted": accepted,
                "note": verdict,
                "version": version,
                "metrics": results,
                "importance": feature_importance(model),
                # the examination model the ranker was tested with, which publish reuses
                "propensity": {str(k): v for k, v in at_test.propensity.items()},
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
