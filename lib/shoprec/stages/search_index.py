"""The search_index stage: the run date's catalog -> the search index; logs -> rewrites, categories.

The first of the search stages (``search_index`` -> ``search_train`` ->
``search_publish``), after ``features`` in the nightly order. Replaces the date's
partition of gold.search_postings, search_terms and search_field_stats (from the
catalog snapshot of D) and of gold.search_query_rewrites and query_categories (from
the search logs up to D), so a rerun of a date leaves the same tables.
"""

from __future__ import annotations

from shoprec import schemas as S
from shoprec.search.features import query_categories
from shoprec.search.index import build_index
from shoprec.search.logs import dated_clicks, query_item_clicks, search_clicks, searches
from shoprec.search.synonyms import learn_rewrites
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.inputs import events_up_to, snapshot
from shoprec.stages.runs import stage_run


def search_index(ctx: RunContext) -> StageReport:
    """The catalog snapshot of the run date -> the index; logs up to it -> rewrites, categories."""
    report = StageReport("search_index", ctx.run_date)
    lake, day, cfg = ctx.lake, ctx.run_date, ctx.settings.search
    with stage_run(ctx, "search_index") as rec:
        catalog = snapshot(lake, day).cache()
        rec.rows_in = catalog.count()
        outputs = build_index(catalog, as_of=day)
        events = events_up_to(lake, day, ctx.settings.features.lookback_days)
        rows = searches(events).cache()
        clicks = dated_clicks(rows, search_clicks(events)).cache()
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
            qi, catalog, as_of=day, prior_clicks=cfg.category_prior_clicks
        )
        for name, df in outputs.items():
            report.tables[name] = lake.replace(df, name, where={S.AS_OF_DATE: day})
        rec.rows_out = report.tables["gold.search_postings"]
        for df in (catalog, rows, clicks, qi):
            df.unpersist()
    return report
