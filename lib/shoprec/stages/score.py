"""The score stage: the selected model, refitted on everything up to the run date, into lists.

Candidates for every active user go through the serving rules (filters, new-arrival
boost, a cap per brand, diversity, reasons) and a popularity top-up; with the similar
and popular items they are staged for publish (:mod:`shoprec.stages.handoff`).
Without a selection (too little history to evaluate yet) popularity serves.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.features.ids import from_idx, model_input, n_items
from shoprec.models.factory import build_model
from shoprec.serving.lists import fill_with_popular, popular_items, similar_items
from shoprec.serving.rerank import (
    add_reasons,
    apply_filters,
    boost_new_arrivals,
    cap_per_group,
    diversify,
)
from shoprec.stages import handoff
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.inputs import events_up_to, snapshot
from shoprec.stages.runs import stage_run, utcnow

# Served while there is too little history to evaluate a model.
POPULARITY: dict[str, Any] = {"model": "popularity", "params": {}}


def score(ctx: RunContext) -> StageReport:
    """The selected model, refitted on all data up to D, into staged serving lists."""
    report = StageReport("score", ctx.run_date)
    lake, day, st = ctx.lake, ctx.run_date, ctx.settings
    sv = st.serving
    with stage_run(ctx, "score") as rec:
        # ---- read
        selected = handoff.read_selected(lake, day) or dict(POPULARITY)
        name, params = selected["model"], selected["params"]
        version = (
            f"{st.registry.registered_model}/{selected['version']}"
            if selected.get("version")
            else f"{day.isoformat()}:{ctx.run_id}"
        )
        pairs = lake.read("gold.interactions").where(F.col(S.AS_OF_DATE) == F.lit(day))
        id_map = lake.read("gold.id_map").cache()
        items = lake.read("gold.item_features").where(F.col(S.AS_OF_DATE) == F.lit(day)).cache()
        events = events_up_to(lake, day, st.features.lookback_days)
        # read by the filters and by the top-up: one scan of the look-back window
        purchased = (
            events.where(F.col(S.EVENT_TYPE) == S.PURCHASE).select(S.USER_ID, S.ITEM_ID).cache()
        )
        recent = (
            lake.read("gold.user_sequences")
            .where(F.col(S.AS_OF_DATE) == F.lit(day))
            .select(S.USER_ID, F.explode(F.slice("item_ids", -5, 5)).alias(S.ITEM_ID))
        )
        cooc = lake.read("gold.item_cooccurrence").where(F.col(S.AS_OF_DATE) == F.lit(day))
        titles = snapshot(lake, day).select(S.ITEM_ID, S.TITLE)

        # ---- the model's candidates, through the serving rules
        fit = model_input(pairs, id_map).cache()
        model = build_model(
            name,
            params,
            seed=st.models.seed,
            workdir=handoff.work_folder(lake, day, "score"),
            cache_dir=st.models.neural.cache_dir,
        ).fit(fit, n_items=n_items(id_map))
        users = fit.select(S.USER_IDX).distinct()
        candidates = from_idx(model.recommend(users, sv.candidates), id_map).drop(S.RANK)
        ranked = (
            apply_filters(
                candidates,
                items,
                purchased,
                repeat_purchase_categories=sv.repeat_purchase_categories,
                blocked_categories=sv.blocked_categories,
            )
            .transform(
                lambda df: boost_new_arrivals(
                    df, as_of=day, days=sv.new_arrival_days, boost=sv.new_arrival_boost
                )
            )
            .transform(lambda df: cap_per_group(df, column=S.BRAND, max_per_group=sv.max_per_brand))
            .transform(
                lambda df: diversify(
                    df,
                    method=sv.diversity,
                    k=sv.list_size,
                    max_per_category=sv.max_per_category,
                    mmr_lambda=sv.mmr_lambda,
                )
            )
            # Cached, as is ``personal``: the reasons read the ranked lists twice and the
            # top-up reads the lists three times; uncached, each read would score every
            # user against the catalog again (five model passes in one plan).
            .cache()
        )
        personal = add_reasons(
            ranked, recent, cooc, titles, personalized=name != "popularity"
        ).cache()
        popular = popular_items(items, k=sv.popular_items, run_id=ctx.run_id)
        lists = fill_with_popular(
            personal.select(S.USER_ID, S.ITEM_ID, S.SCORE, S.RANK, "reason"),
            popular,
            items,
            purchased,
            k=sv.list_size,
        )
        now = utcnow()
        user_recs = lists.select(
            S.USER_ID,
            S.RANK,
            S.ITEM_ID,
            S.SCORE,
            "reason",
            F.lit(name).alias(S.MODEL_NAME),
            F.lit(version).alias(S.MODEL_VERSION),
            F.lit(ctx.run_id).alias(S.RUN_ID),
            F.lit(now).cast("timestamp").alias(S.GENERATED_AT),
        )
        similar = similar_items(cooc, items, k=sv.similar_items, version=version, run_id=ctx.run_id)

        # ---- write: the staged lists, then what publish needs to know
        staged = handoff.stage_tables(
            {
                "gold.user_recommendations": user_recs,
                "gold.similar_items": similar,
                "gold.popular_items": popular,
            },
            lake,
            ctx.run_id,
        )
        for table_name in staged:
            rows = handoff.staged_rows(ctx.spark, lake, table_name, ctx.run_id)
            report.tables[table_name + " (staged)"] = rows
        handoff.write_staged(
            lake,
            day,
            {
                "run_id": ctx.run_id,
                "model": name,
                "model_version": version,
                "promote": selected.get("promote"),
            },
        )
        model.release()
        rec.rows_out = report.tables["gold.user_recommendations (staged)"]
        rec.model_version = f"{name}@{version}"
        for df in (id_map, items, purchased, fit, ranked, personal):
            df.unpersist()
    return report
