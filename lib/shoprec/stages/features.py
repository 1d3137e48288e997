"""The features stage: silver up to the run date -> the gold feature tables of that date.

Reads the silver events of the look-back window and the catalog snapshot; appends
the night's new users and items to gold.id_map; replaces the date's partition of
gold.interactions, user_item_edges, item_cooccurrence, item_features, user_features
and user_sequences, one commit each.
"""

from __future__ import annotations

from shoprec import schemas as S
from shoprec.errors import InputError
from shoprec.features.cooccurrence import item_cooccurrence
from shoprec.features.ids import edges, new_id_rows
from shoprec.features.interactions import interactions
from shoprec.features.items import item_features
from shoprec.features.sequences import user_sequences
from shoprec.features.users import user_features
from shoprec.locks import hold
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.inputs import events_up_to, snapshot
from shoprec.stages.runs import stage_run


def features(ctx: RunContext) -> StageReport:
    """Silver up to the run date -> gold features, graphs and id map for that date."""
    report = StageReport("features", ctx.run_date)
    lake, day, f = ctx.lake, ctx.run_date, ctx.settings.features
    with stage_run(ctx, "features") as rec:
        events = events_up_to(lake, day, f.lookback_days).cache()
        rec.rows_in = events.count()
        if rec.rows_in == 0:
            raise InputError(f"silver.events: no events up to {day}; run ingest and validate first")
        catalog = snapshot(lake, day)
        pairs = interactions(
            events, as_of=day, weights=f.event_weights, half_life_days=f.half_life_days
        ).cache()
        # Computed once: checking for new ids and appending them would each run the
        # numbering again. A checkpoint, not a cache: a lost cache would be recomputed
        # from the id map this append has just changed, and hand out no ids.
        # Under the id map's own lock: two runs (of any dates) that both read the map
        # before either appended would hand the same index to two users.
        with hold(
            lake,
            "gold.id_map",
            run_id=ctx.run_id,
            ttl_seconds=ctx.settings.locks.ttl_seconds,
            enabled=ctx.settings.locks.enabled,
            what="gold.id_map numbering",
            wait_seconds=ctx.settings.locks.ttl_seconds,  # the other run's append is short
        ):
            new_ids = new_id_rows(lake.read("gold.id_map"), pairs, as_of=day).localCheckpoint()
            if new_ids.count():
                lake.append(new_ids, "gold.id_map")
        id_map = lake.read("gold.id_map")
        items = item_features(
            catalog, events, as_of=day, weights=f.event_weights, half_life_days=f.half_life_days
        ).cache()
        outputs = {
            "gold.interactions": pairs,
            "gold.user_item_edges": edges(pairs, id_map),
            "gold.item_cooccurrence": item_cooccurrence(
                events, as_of=day, max_items_per_session=f.max_items_per_session
            ),
            "gold.item_features": items,
            "gold.user_features": user_features(events, items, as_of=day),
            "gold.user_sequences": user_sequences(events, as_of=day, max_len=f.sequence_length),
        }
        for name, df in outputs.items():
            report.tables[name] = lake.replace(df, name, where={S.AS_OF_DATE: day})
        rec.rows_out = report.tables["gold.interactions"]
        for df in (events, pairs, items):
            df.unpersist()
    return report
