"""The evaluate stage: every trained model on one time split, the registry, the champion gate.

With D the run date and T = evaluation.test_days, the test window is the last T days
ending with D; every model train saved ranks the whole catalog for the test window's
users and is scored with the same metric code (accuracy, beyond-accuracy, and the
warm/cold user and seen/new item segments), rows to ops.metrics. Each model is
logged to the registry; the best is registered as tonight's challenger and measured
against the champion (:func:`~shoprec.evaluation.gate.decide`). The decision and the
model score will refit go to the night's hand-off files (:mod:`shoprec.stages.handoff`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.errors import InputError
from shoprec.evaluation.gate import GateDecision, decide, gate_rows
from shoprec.evaluation.metrics import (
    N_USERS,
    accuracy_by_segment,
    beyond_accuracy,
    format_table,
    metrics_rows,
)
from shoprec.evaluation.split import (
    ALL,
    RELEVANT_EVENTS,
    TIME_SPLIT,
    Split,
    segment_truth,
    truth_from_test,
)
from shoprec.features.ids import from_idx, n_items, to_idx
from shoprec.lake import Lake
from shoprec.models.base import Recommender
from shoprec.models.factory import MODEL_CLASSES, build_model
from shoprec.registry import ModelVersion, Registry
from shoprec.stages import handoff
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.inputs import Windows, events_up_to, windows
from shoprec.stages.runs import stage_run, utcnow
from shoprec.stages.train import fit_frame

log = logging.getLogger(__name__)

Metrics = dict[str, float]


@dataclass(frozen=True)
class Holdout:
    """What every model is measured on: tonight's test truth and what the metrics need.

    Everything but ``split`` is cached: each model's metrics read these frames, and
    recomputing them from the events per model would cost more than the metrics.
    """

    split: Split  # events before the test window, events in it
    segments: dict[str, DataFrame]  # the truth per segment (segment_truth), ALL included
    id_map: DataFrame  # gold.id_map
    users_idx: DataFrame  # user_idx of the test users the map knows
    items: DataFrame  # item_id, category: the run date's catalog
    popularity: DataFrame  # item_id, n_users before the test window
    n_users: int  # users before the test window

    @property
    def truth(self) -> DataFrame:
        """user_id, item_id: the relevant new pairs of the test window."""
        return self.segments[ALL]

    def release(self) -> None:
        frames = (*self.segments.values(), self.id_map, self.users_idx, self.items)
        for df in (*frames, self.popularity):
            df.unpersist()


def _read_holdout(lake: Lake, day: dt.date, w: Windows, lookback_days: int) -> Holdout:
    """The run date's events, split at the test window, and the tables the metrics read."""
    events = events_up_to(lake, day, lookback_days)
    before_test = events.where(F.col(S.EVENT_TS) < F.lit(w.test_start))
    test = events.where(F.col(S.EVENT_TS) >= F.lit(w.test_start))
    split = Split(train=before_test, test=test)
    truth = truth_from_test(test, train=before_test, event_types=RELEVANT_EVENTS).cache()
    segments = {
        name: t if name == ALL else t.cache() for name, t in segment_truth(truth, split).items()
    }
    id_map = lake.read("gold.id_map").cache()
    items = (
        lake.read("gold.item_features")
        .where(F.col(S.AS_OF_DATE) == F.lit(day))
        .select(S.ITEM_ID, F.col("category_l1").alias(S.CATEGORY))
        .cache()
    )
    users_idx = to_idx(truth.withColumn(S.WEIGHT, F.lit(1.0)), id_map)
    return Holdout(
        split=split,
        segments=segments,
        id_map=id_map,
        users_idx=users_idx.select(S.USER_IDX).distinct().cache(),
        items=items,
        popularity=before_test.groupBy(S.ITEM_ID)
        .agg(F.countDistinct(S.USER_ID).alias("n_users"))
        .cache(),
        n_users=before_test.select(S.USER_ID).distinct().count(),
    )


def _recs(model: Recommender, data: Holdout, k: int) -> DataFrame:
    """``model``'s top ``k`` for the test users, by shop ids (cached: every metric reads it)."""
    return from_idx(model.recommend(data.users_idx, k), data.id_map).cache()


def _measure(model: Recommender, data: Holdout, ks: tuple[int, ...]) -> dict[str, Metrics]:
    """Every metric of ``model`` per segment: all test users and items, then each segment.

    Accuracy for every segment in one query; beyond-accuracy for all test users only.
    Users and items unseen in training are the segments reported apart.
    """
    recs = _recs(model, data, max(ks))
    per_segment = accuracy_by_segment(data.segments, recs, ks=ks)
    per_segment[ALL] |= beyond_accuracy(
        data.truth,
        recs,
        ks=ks,
        catalog=data.items,
        item_categories=data.items,
        item_popularity=data.popularity,
        n_users_total=data.n_users,
    )
    recs.unpersist()
    return per_segment


def _no_decision(metric: str, tolerance: float) -> GateDecision:
    """The gate's decision on a night without a trained model: nothing is promoted."""
    return GateDecision(
        metric=metric,
        tolerance=tolerance,
        challenger="none",
        challenger_value=float("nan"),
        champion=None,
        champion_value=None,
        champion_version=None,
        promoted=False,
        reason="no model trained tonight",
    )


def _register(
    registry: Registry,
    chosen: dict[str, Any],
    results: dict[str, Metrics],
    *,
    gate: str,
    k: int,
    lake: Lake,
    day: dt.date,
    run_id: str,
) -> tuple[str, ModelVersion]:
    """Log every model as a tracked run; register the best as a new version (the challenger).

    Returns the best model's name and its registered version.
    """
    runs = {
        name: registry.log_model_run(
            model_name=name,
            params=chosen[name]["params"],
            metrics={
                **results[name],
                **(
                    {f"validation_ndcg@{k}": chosen[name]["validation_ndcg"]}
                    if chosen[name]["validation_ndcg"] is not None
                    else {}
                ),
            },
            artifact_dir=handoff.model_folder(lake, day, name),
            storage=lake.storage,
            run_date=day.isoformat(),
            run_id=run_id,
            fit_id=chosen[name].get("fit_id"),
        )
        for name in results
    }
    best = max(results, key=lambda m: results[m].get(gate, float("-inf")))
    challenger = registry.register(
        runs[best],
        model_name=best,
        params=chosen[best]["params"],
        run_date=day.isoformat(),
        run_id=run_id,
        metric=gate,
        metric_value=results[best][gate],
    )
    return best, challenger


def _champion_on_split(
    champion: ModelVersion | None,
    chosen: dict[str, Any],
    results: dict[str, Metrics],
    data: Holdout,
    *,
    gate: str,
    ks: tuple[int, ...],
    test_start: dt.datetime,
    weights: Mapping[str, float],
    half_life_days: float,
    seed: int,
    workdir: str,
    cache_dir: str | None,
) -> float | None:
    """The champion's model and settings measured on tonight's split; None if unknown."""
    if champion is None:
        return None
    name = champion.model_name
    if name in chosen and name in results and chosen[name]["params"] == champion.params:
        return results[name][gate]  # tonight trained exactly the champion's settings
    if name not in MODEL_CLASSES:
        log.warning("evaluate: champion v%s is a %r, unknown here", champion.version, name)
        return None
    fit = fit_frame(
        data.split.train,
        data.id_map,
        cut=test_start,
        weights=weights,
        half_life_days=half_life_days,
    )
    model = build_model(name, champion.params, seed=seed, workdir=workdir, cache_dir=cache_dir).fit(
        fit, n_items=n_items(data.id_map)
    )
    recs = _recs(model, data, max(ks))
    value = accuracy_by_segment({ALL: data.truth}, recs, ks=ks)[ALL][gate]
    model.release()
    recs.unpersist()
    return float(value)


def _selection(
    decision: GateDecision,
    *,
    gate: str,
    best: str,
    best_params: dict[str, Any],
    best_value: float,
    challenger: ModelVersion,
    champion: ModelVersion | None,
    champion_value: float | None,
) -> dict[str, Any]:
    """The model score refits: the challenger when promoted (or first), else the champion."""
    selected: dict[str, Any]
    if decision.promoted or champion is None:
        selected = {"model": best, "params": best_params}
        selected |= {"version": challenger.version, gate: best_value}
    else:
        selected = {"model": champion.model_name, "params": champion.params}
        selected |= {"version": champion.version, gate: champion_value}
    selected["promote"] = challenger.version if decision.promoted else None
    return selected


def evaluate(ctx: RunContext) -> StageReport:
    """Every trained model on the same time split and metric code, then the champion gate.

    Each model is logged to the registry (params, validation and test metrics, the
    saved model); the best becomes a new registered version, the challenger. The
    champion's model and settings are measured on the same split (reusing tonight's fit
    when tonight trained the same settings); the challenger is selected for scoring
    when it is not worse than the champion by more than ``evaluation.gate_tolerance``,
    otherwise the champion is. The alias moves when the lists are published.
    """
    report = StageReport("evaluate", ctx.run_date)
    lake, day, st = ctx.lake, ctx.run_date, ctx.settings
    ev = st.evaluation
    w = windows(day, test_days=ev.test_days, validation_days=ev.validation_days)
    ks = tuple(ev.ks)
    k = max(ks)
    gate = ev.gate_metric
    with stage_run(ctx, "evaluate") as rec:
        # ---- read: tonight's train outcomes, the test split
        enabled = st.models.enabled
        chosen, skipped = handoff.read_trained(lake, day, enabled)
        missing = [m for m in enabled if m not in chosen and m not in skipped]
        if len(missing) == len(enabled):
            raise InputError(
                f"evaluate: no trained models for {day} in {handoff.models_dir(lake, day)}; "
                "run train first"
            )
        if missing:  # a train task that did not run: evaluate what there is
            report.note(f"not trained tonight: {', '.join(missing)}")
        for name, why in skipped.items():
            report.note(f"{name} not trained: {why}")
        handoff.clear_decision(lake, day)
        if not chosen:
            # Nothing to promote: the gate keeps whatever serves (score falls back to
            # popularity while there is too little history to train).
            handoff.write_gate(lake, day, _no_decision(gate, ev.gate_tolerance))
            rec.message = report.note("no trained models tonight; nothing to evaluate")
            return report
        data = _read_holdout(lake, day, w, st.features.lookback_days)

        # ---- every trained model on the same split
        version = f"{day.isoformat()}:{ctx.run_id}"
        now = utcnow()
        results: dict[str, Metrics] = {}
        rows: list[dict[str, Any]] = []
        for name in chosen:
            model = MODEL_CLASSES[name].load(handoff.model_folder(lake, day, name))
            per_segment = _measure(model, data, ks)
            model.release()
            results[name] = per_segment[ALL]
            for segment, seg_values in per_segment.items():
                rows += metrics_rows(
                    seg_values,
                    model_name=name,
                    model_version=version,
                    protocol=TIME_SPLIT,
                    segment=segment,
                    run_id=ctx.run_id,
                    run_date=day,
                    recorded_at=now,
                )

        # ---- registry: every model is a tracked run; the best is tonight's challenger
        registry = Registry(st.registry, lake.root)
        best, challenger = _register(
            registry, chosen, results, gate=gate, k=k, lake=lake, day=day, run_id=ctx.run_id
        )
        champion = registry.champion()
        champion_value = _champion_on_split(
            champion,
            chosen,
            results,
            data,
            gate=gate,
            ks=ks,
            test_start=w.test_start,
            weights=st.features.event_weights,
            half_life_days=st.features.half_life_days,
            seed=st.models.seed,
            workdir=handoff.work_folder(lake, day, "champion"),
            cache_dir=st.models.neural.cache_dir,
        )
        decision = decide(
            metric=gate,
            tolerance=ev.gate_tolerance,
            challenger=best,
            challenger_value=results[best][gate],
            champion=champion.model_name if champion else None,
            champion_value=champion_value,
            champion_version=champion.version if champion else None,
        )
        selected = _selection(
            decision,
            gate=gate,
            best=best,
            best_params=chosen[best]["params"],
            best_value=results[best][gate],
            challenger=challenger,
            champion=champion,
            champion_value=champion_value,
        )
        rows += gate_rows(
            decision,
            model_version=challenger.version,
            run_id=ctx.run_id,
            run_date=day,
            recorded_at=now,
        )

        # ---- write: metric rows, the decision, the selection
        lake.append_rows(rows, "ops.metrics")
        gate_file = handoff.write_gate(lake, day, decision)
        handoff.write_selected(lake, day, selected)
        report.counts = {
            "models": len(results),
            "test_users": int(results[best][N_USERS]),
        }
        report.validations.append(
            {
                "suite": "champion gate",
                "status": "promoted" if decision.promoted else "champion kept",
                "failures": [],
                "json": gate_file,
            }
        )
        report.notes.append(format_table(results, [gate, f"recall@{k}", "mrr"]))
        report.note(decision.summary())
        report.note(
            f"registry: {registry.uri} {st.registry.registered_model} v{challenger.version}"
        )
        rec.rows_out = len(results)
        rec.model_version = f"{selected['model']}@v{selected['version']}"
        rec.message = decision.summary()
        data.release()
    return report
