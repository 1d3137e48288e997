"""The train stage: each enabled model's setting chosen on validation, fitted on pre-test data.

With D the run date, T = evaluation.test_days, V = evaluation.validation_days::

    ... train ... | validation (V days) | test (T days, ending with D)

Each model's grid (:func:`~shoprec.models.factory.candidate_grid`) is searched by
fitting on the events before the validation window and ranking its users
(:func:`~shoprec.models.tuning.grid_search`); the chosen setting is refitted on
everything before the test window and saved in the night's folder, with one outcome
file per model (:mod:`shoprec.stages.handoff`), for evaluate.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from functools import partial

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.evaluation.split import RELEVANT_EVENTS, truth_from_test
from shoprec.features.ids import model_input, n_items, to_idx
from shoprec.features.interactions import interactions
from shoprec.models.factory import build_model, candidate_grid
from shoprec.models.tuning import grid_search, ndcg_metric
from shoprec.stages import handoff
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.inputs import events_up_to, windows
from shoprec.stages.runs import stage_run

log = logging.getLogger(__name__)


def fit_frame(
    events: DataFrame,
    id_map: DataFrame,
    *,
    cut: dt.datetime,
    weights: Mapping[str, float],
    half_life_days: float,
) -> DataFrame:
    """A model's training input from ``events`` before ``cut``: weights as of the day before.

    Output: :func:`~shoprec.features.ids.model_input` columns (``last_ts`` orders the
    sequential models' input).
    """
    as_of = (cut - dt.timedelta(days=1)).date()
    pairs = interactions(events, as_of=as_of, weights=weights, half_life_days=half_life_days)
    return model_input(pairs, id_map)


def train(ctx: RunContext) -> StageReport:
    """Choose each model's regularization on validation, fit it on pre-test data, save it.

    ``ctx.models`` limits the run to some of the enabled models (the Airflow DAG trains
    the baselines and each neural model in tasks of their own); each model's outcome is
    its own file, so such tasks can run side by side and evaluate reads them all.
    """
    report = StageReport("train", ctx.run_date)
    lake, day, st = ctx.lake, ctx.run_date, ctx.settings
    ev, f = st.evaluation, st.features
    w = windows(day, test_days=ev.test_days, validation_days=ev.validation_days)
    k = max(ev.ks)
    wanted = [m for m in st.models.enabled if ctx.models is None or m in ctx.models]
    grids = candidate_grid(st.models, wanted)
    # the DAG's train groups run side by side: each holds the lock of its own models
    with stage_run(ctx, "train", scope=",".join(ctx.models or ())) as rec:
        for name in grids:  # a rerun starts from nothing for the models it trains
            handoff.clear_trained(lake, day, name)
        if not grids:
            rec.message = report.note(
                f"none of {', '.join(ctx.models or [])} is in models.enabled; nothing to train"
            )
            return report
        events = events_up_to(lake, day, f.lookback_days).cache()
        id_map = lake.read("gold.id_map").cache()
        n = n_items(id_map)
        before_val = events.where(F.col(S.EVENT_TS) < F.lit(w.validation_start))
        val_events = events.where(
            (F.col(S.EVENT_TS) >= F.lit(w.validation_start))
            & (F.col(S.EVENT_TS) < F.lit(w.test_start))
        )
        before_test = events.where(F.col(S.EVENT_TS) < F.lit(w.test_start))
        weighting = partial(fit_frame, weights=f.event_weights, half_life_days=f.half_life_days)
        fit_val = weighting(before_val, id_map, cut=w.validation_start).cache()
        fit_test = weighting(before_test, id_map, cut=w.test_start).cache()
        rec.rows_in = fit_test.count()
        if rec.rows_in == 0 or not fit_val.take(1):
            # A new shop: nothing to validate on yet. Score serves popularity until
            # there are evaluation.test_days + validation_days + 1 days of events.
            why = f"not enough history before {w.validation_start:%Y-%m-%d} to train"
            for name in grids:
                handoff.write_trained(lake, day, name, {"skipped": why})
            rec.message = report.note(f"{why}; popularity is served")
            return report
        truth_val = (
            to_idx(
                truth_from_test(
                    val_events, train=before_val, event_types=RELEVANT_EVENTS
                ).withColumn(S.WEIGHT, F.lit(1.0)),
                id_map,
            )
            .select(S.USER_IDX, S.ITEM_IDX)
            .cache()
        )

        fitted = 0
        seed, cache_dir = st.models.seed, st.models.neural.cache_dir
        for name, grid in grids.items():
            validation_dir = handoff.work_folder(lake, day, "validation")
            choice = grid_search(
                grid,
                partial(build_model, name, seed=seed, workdir=validation_dir, cache_dir=cache_dir),
                fit_val,
                truth_val,
                metric_fn=ndcg_metric(k),
                k=k,
                n_items=n,
            )
            if choice.params is None:  # every setting refused
                handoff.write_trained(lake, day, name, {"skipped": choice.skipped})
                report.note(f"{name} skipped: {choice.skipped}")
                continue
            try:
                model = build_model(
                    name,
                    choice.params,
                    seed=seed,
                    workdir=handoff.work_folder(lake, day, "test"),
                    cache_dir=cache_dir,
                ).fit(fit_test, n_items=n)
            except ValueError as err:
                log.warning("train: %s %s skipped: %s", name, choice.params, err)
                handoff.write_trained(lake, day, name, {"skipped": str(err)})
                report.note(f"{name} skipped: {err}")
                continue
            model.save(handoff.model_folder(lake, day, name))
            model.release()
            handoff.write_trained(
                lake,
                day,
                name,
                {
                    "params": choice.params,
                    "validation_ndcg": choice.metric,
                    # this fit and no other: evaluate logs and registers it once
                    "fit_id": f"{ctx.run_id}/{name}/{uuid.uuid4().hex[:8]}",
                },
            )
            fitted += 1
        rec.rows_out = fitted
        rec.message = f"trained {fitted} of {', '.join(grids)}"
        report.counts = {"models": fitted}
        for df in (events, id_map, fit_val, fit_test, truth_val):
            df.unpersist()
    return report
