"""The search_publish stage: ranked head queries and suggestions, staged, then published at once.

The head queries of the last search.window_days days are ranked by the ranker
search_train kept (else by BM25, with the reason in the run record); autocomplete
suggestions come from the same counts. Click-through rates use the examination by
position that search_train estimated (estimated here when nothing was trained). Both
lists are staged, the served model is saved for the live ``shoprec search``
(:mod:`shoprec.stages.handoff`), then both serving tables are published in one switch.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.errors import InputError
from shoprec.features.items import item_features
from shoprec.search.engine import SearchModel, learn, rank_queries
from shoprec.search.logs import dated_between, dated_clicks, search_clicks, searches
from shoprec.search.suggestions import canonical_queries, head_queries, query_counts, suggestions
from shoprec.serving.publish import publish as publish_tables
from shoprec.stages import handoff
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.inputs import events_up_to, read_index, snapshot
from shoprec.stages.runs import stage_run, utcnow


def search_publish(ctx: RunContext) -> StageReport:
    """Rank the head queries, build suggestions, stage both, then publish them atomically."""
    report = StageReport("search_publish", ctx.run_date)
    lake, day, st = ctx.lake, ctx.run_date, ctx.settings
    cfg, f = st.search, st.features
    with stage_run(ctx, "search_publish") as rec:
        # ---- read
        trained = handoff.read_search_trained(lake, day)
        if trained is None:
            raise InputError(f"search_publish: nothing trained for {day}; run search_train first")
        model = trained["model"] if trained.get("accepted") else None
        # Examination by position is a property of the result page: the estimate the
        # ranker was tested with serves too (else, before any training, it is made here).
        propensity = {int(k): float(v) for k, v in (trained.get("propensity") or {}).items()}
        index = read_index(lake, day)
        events = events_up_to(lake, day, f.lookback_days).cache()
        rows = searches(events).cache()
        clicks = dated_clicks(rows, search_clicks(events)).cache()
        catalog = snapshot(lake, day)
        rewrites = lake.read("gold.search_query_rewrites").where(F.col(S.AS_OF_DATE) == F.lit(day))
        categories = lake.read("gold.query_categories").where(F.col(S.AS_OF_DATE) == F.lit(day))

        # ---- rank the head queries, count the suggestions
        learned = learn(
            rows,
            clicks,
            item_features(
                catalog,
                events,
                as_of=day,
                weights=f.event_weights,
                half_life_days=f.half_life_days,
            ),
            as_of=day,
            cfg=cfg,
            propensity=propensity or None,
            rewrites=rewrites,  # the index stage's, as the live search reads them
            categories=categories,
        )
        window = dated_between(rows, day - dt.timedelta(days=cfg.window_days - 1), day)
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

        # ---- write: stage both lists, the served model, then publish
        frames = handoff.stage_tables(
            {
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
            },
            lake,
            ctx.run_id,
        )
        # the model first: a reader who sees the new lists can always find it
        handoff.write_publication(lake, ctx.run_id, served.to_json())
        pub = publish_tables(lake, frames, run_id=ctx.run_id, locks=ctx.settings.locks)
        for name in pub.changed:
            report.tables[name] = lake.rows_written(name)
        report.counts = {"head_queries": head.count()}
        why = "" if model is not None else f"BM25 served: {served.note}"
        if why:
            report.note(why)
        rec.rows_out = report.tables["gold.search_results"]
        rec.model_version = f"{served.name}@{version}"
        rec.message = (
            (why + "; " if why else "")
            + f"publication {pub.number}: "
            + ", ".join(f"{n}@{pub.tables[n]}" for n in pub.changed)
        )
        for df in (events, rows, clicks, counts):
            df.unpersist()
    return report
