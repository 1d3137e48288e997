"""The recommendation stages: features, train, evaluate, score, publish (the I/O edge).

* ``features``: silver up to the run date -> the gold feature tables and graphs.
* ``train``: per enabled model (or some of them, one task each in the DAG),
  regularization chosen on a validation window, then fitted on everything before
  the test window; saved under the lake's _models with one outcome file per model.
* ``evaluate``: every trained model ranks the whole catalog for the test window's
  users with the same metric code; results to ops.metrics; the best is selected.
* ``score``: the selected model, refitted on everything up to the run date,
  produces candidates for every active user; filters, rules, diversity, reasons
  and a popularity fallback turn them into lists, staged for publication.
* ``publish``: the staged lists replace the serving tables, one commit each.

Windows, with D the run date, T = evaluation.test_days, V = validation_days::

    ... train ... | validation (V days) | test (T days, ending with D)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.config import Settings
from shoprec.errors import InputError
from shoprec.evaluation.gate import GateDecision, decide, gate_rows
from shoprec.evaluation.metrics import evaluate as evaluate_metrics
from shoprec.evaluation.metrics import format_table, metrics_rows
from shoprec.evaluation.split import (
    ALL,
    RELEVANT_EVENTS,
    TIME_SPLIT,
    Split,
    segment_truth,
    truth_from_test,
)
from shoprec.features.cooccurrence import item_cooccurrence
from shoprec.features.ids import edges, from_idx, model_input, n_items, new_id_rows, to_idx
from shoprec.features.interactions import interactions
from shoprec.features.items import item_features
from shoprec.features.sequences import user_sequences
from shoprec.features.users import user_features
from shoprec.lake import Lake
from shoprec.models.base import Recommender
from shoprec.models.factory import MODEL_CLASSES, build_model, candidate_grid
from shoprec.models.tuning import grid_search, ndcg_metric
from shoprec.pipeline.runs import stage_run, utcnow
from shoprec.pipeline.stages import RunContext, StageReport
from shoprec.registry import ModelVersion, Registry
from shoprec.serving.lists import fill_with_popular, popular_items, similar_items
from shoprec.serving.publish import publish as publish_tables
from shoprec.serving.rerank import (
    add_reasons,
    apply_filters,
    boost_new_arrivals,
    cap_per_group,
    diversify,
)

log = logging.getLogger(__name__)

GATE_FILE = "gate.json"
STAGED = {
    "gold.user_recommendations": "_staged/user_recommendations",
    "gold.similar_items": "_staged/similar_items",
    "gold.popular_items": "_staged/popular_items",
}


# ===================================================================== helpers
def _day_start(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time())


def _events_up_to(lake: Lake, day: dt.date, lookback_days: int) -> DataFrame:
    """Silver events known by the end of ``day`` (ingested then), within the look-back."""
    start = day - dt.timedelta(days=lookback_days)
    return lake.read("silver.events").where(
        (F.col(S.INGEST_DATE) <= F.lit(day))
        & (F.col(S.EVENT_DATE) <= F.lit(day))
        & (F.col(S.EVENT_DATE) >= F.lit(start))
    )


def _snapshot(lake: Lake, day: dt.date) -> DataFrame:
    """The newest catalog snapshot on or before ``day``."""
    items = lake.read("silver.items").where(F.col(S.SNAPSHOT_DATE) <= F.lit(day))
    latest = items.agg(F.max(S.SNAPSHOT_DATE)).first()[0]  # type: ignore[index]
    if latest is None:
        raise InputError(f"silver.items: no catalog snapshot on or before {day}")
    return items.where(F.col(S.SNAPSHOT_DATE) == F.lit(latest))


def _fit_frame(events: DataFrame, cut: dt.datetime, st: Settings, id_map: DataFrame) -> DataFrame:
    """A model's training input from ``events`` before ``cut``: weights as of the day before.

    ``last_ts`` (the user's last event on the item) orders the sequential models' input.
    """
    pairs = _weighted(events, st, (cut - dt.timedelta(days=1)).date())
    return model_input(pairs, id_map)


def models_dir(lake_root: str, day: dt.date) -> Path:
    """The night's working folder for saved models and the stage hand-off files.

    Local only for now: the registry (MLflow) holds the models that matter across
    nights, but train hands its models to evaluate through this folder.
    """
    if "://" in lake_root and not lake_root.startswith("file://"):
        raise InputError(
            f"lake.root: {lake_root}: the train/evaluate/score hand-off folder "
            "(<lake>/_models) needs a local or mounted lake"
        )
    return Path(lake_root.removeprefix("file://")) / "_models" / day.isoformat()


def _models_dir(ctx: RunContext) -> Path:
    return models_dir(ctx.lake.root, ctx.run_date)


def gate_decision(lake_root: str, day: dt.date) -> GateDecision | None:
    """The champion gate's decision for ``day``, if evaluate has made one (no Spark needed)."""
    path = models_dir(lake_root, day) / GATE_FILE
    return GateDecision.from_dict(json.loads(path.read_text())) if path.is_file() else None


@dataclass(frozen=True)
class Windows:
    """The cut points of the run's evaluation protocol."""

    validation_start: dt.datetime
    test_start: dt.datetime
    test_days: int
    validation_days: int


def windows(settings: Settings, day: dt.date) -> Windows:
    """Test = the last ``test_days`` ending with ``day``; validation = the days before."""
    ev = settings.evaluation
    test_start = _day_start(day - dt.timedelta(days=ev.test_days - 1))
    return Windows(
        validation_start=test_start - dt.timedelta(days=ev.validation_days),
        test_start=test_start,
        test_days=ev.test_days,
        validation_days=ev.validation_days,
    )


def _weighted(events: DataFrame, settings: Settings, as_of: dt.date) -> DataFrame:
    f = settings.features
    return interactions(
        events, as_of=as_of, weights=f.event_weights, half_life_days=f.half_life_days
    )


# ===================================================================== stages
def features(ctx: RunContext) -> StageReport:
    """Silver up to the run date -> gold features, graphs and id map for that date."""
    report = StageReport("features", ctx.run_date)
    lake, day, f = ctx.lake, ctx.run_date, ctx.settings.features
    with stage_run(lake, ctx.run_id, day, "features") as rec:
        events = _events_up_to(lake, day, f.lookback_days).cache()
        rec.rows_in = events.count()
        if rec.rows_in == 0:
            raise InputError(f"silver.events: no events up to {day}; run ingest and validate first")
        snapshot = _snapshot(lake, day)
        pairs = _weighted(events, ctx.settings, day).cache()
        new_ids = new_id_rows(lake.read("gold.id_map"), pairs, as_of=day)
        if new_ids.take(1):
            lake.append(new_ids, "gold.id_map")
        id_map = lake.read("gold.id_map")
        items = item_features(
            snapshot, events, as_of=day, weights=f.event_weights, half_life_days=f.half_life_days
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
            lake.replace(df, name, where={S.AS_OF_DATE: day})
            report.tables[name] = lake.read(name).where(F.col(S.AS_OF_DATE) == F.lit(day)).count()
        rec.rows_out = report.tables["gold.interactions"]
        for df in (events, pairs, items):
            df.unpersist()
    return report


TRAINED = "trained"  # <models dir>/trained/<model>.json: one train outcome per model


def _trained_file(out: Path, name: str) -> Path:
    return out / TRAINED / f"{name}.json"


def _write_trained(out: Path, name: str, outcome: dict[str, Any]) -> None:
    """``outcome``: {"params", "validation_ndcg"} for a fitted model, {"skipped": why} if not."""
    path = _trained_file(out, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(outcome, indent=2, default=str))
    tmp.replace(path)  # evaluate never reads half a file


def trained_models(out: Path, enabled: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Tonight's train outcomes for the ``enabled`` models: (fitted, skipped -> reason).

    An enabled model without an outcome (its train task did not run) is in neither.
    """
    fitted: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in enabled:
        path = _trained_file(out, name)
        if not path.is_file():
            continue
        outcome = json.loads(path.read_text())
        if "skipped" in outcome:
            skipped[name] = str(outcome["skipped"])
        else:
            fitted[name] = outcome
    return fitted, skipped


def train(ctx: RunContext) -> StageReport:
    """Choose each model's regularization on validation, fit it on pre-test data, save it.

    ``ctx.models`` limits the run to some of the enabled models (the Airflow DAG trains
    the baselines and each neural model in tasks of their own); each model's outcome is
    its own file, so such tasks can run side by side and evaluate reads them all.
    """
    report = StageReport("train", ctx.run_date)
    lake, day, st = ctx.lake, ctx.run_date, ctx.settings
    w = windows(st, day)
    k = max(st.evaluation.ks)
    grids = candidate_grid(
        st.models, [m for m in st.models.enabled if ctx.models is None or m in ctx.models]
    )
    out = _models_dir(ctx)
    with stage_run(lake, ctx.run_id, day, "train") as rec:
        for name in grids:  # a rerun starts from nothing for the models it trains
            _trained_file(out, name).unlink(missing_ok=True)
            shutil.rmtree(out / name, ignore_errors=True)
        if not grids:
            rec.message = report.note(
                f"none of {', '.join(ctx.models or [])} is in models.enabled; nothing to train"
            )
            return report
        events = _events_up_to(lake, day, st.features.lookback_days).cache()
        id_map = lake.read("gold.id_map").cache()
        n = n_items(id_map)
        before_val = events.where(F.col(S.EVENT_TS) < F.lit(w.validation_start))
        val_events = events.where(
            (F.col(S.EVENT_TS) >= F.lit(w.validation_start))
            & (F.col(S.EVENT_TS) < F.lit(w.test_start))
        )
        before_test = events.where(F.col(S.EVENT_TS) < F.lit(w.test_start))
        fit_val = _fit_frame(before_val, w.validation_start, st, id_map).cache()
        fit_test = _fit_frame(before_test, w.test_start, st, id_map).cache()
        rec.rows_in = fit_test.count()
        if rec.rows_in == 0 or not fit_val.take(1):
            # A new shop: nothing to validate on yet. Score serves popularity until
            # there are evaluation.test_days + validation_days + 1 days of events.
            why = f"not enough history before {w.validation_start:%Y-%m-%d} to train"
            for name in grids:
                _write_trained(out, name, {"skipped": why})
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
        for name, grid in grids.items():
            choice = grid_search(
                grid,
                partial(
                    build_model, name, seed=st.models.seed, workdir=out / "_work" / "validation"
                ),
                fit_val,
                truth_val,
                metric_fn=ndcg_metric(k),
                k=k,
                n_items=n,
            )
            if choice.params is None:  # every setting refused
                _write_trained(out, name, {"skipped": choice.skipped})
                report.note(f"{name} skipped: {choice.skipped}")
                continue
            try:
                model = build_model(
                    name, choice.params, seed=st.models.seed, workdir=out / "_work" / "test"
                ).fit(fit_test, n_items=n)
            except ValueError as err:
                log.warning("train: %s %s skipped: %s", name, choice.params, err)
                _write_trained(out, name, {"skipped": str(err)})
                report.note(f"{name} skipped: {err}")
                continue
            model.save(out / name)
            model.release()
            _write_trained(out, name, {"params": choice.params, "validation_ndcg": choice.metric})
            fitted += 1
        rec.rows_out = fitted
        rec.message = f"trained {fitted} of {', '.join(grids)}"
        report.counts = {"models": fitted}
        for df in (events, id_map, fit_val, fit_test, truth_val):
            df.unpersist()
    return report


def _test_metrics(
    model: Recommender,
    users_idx: DataFrame,
    id_map: DataFrame,
    truth: DataFrame,
    ks: tuple[int, ...],
    **beyond: Any,
) -> tuple[dict[str, float], DataFrame]:
    """``model``'s metrics on the test truth, and its (cached) recommendations."""
    recs = from_idx(model.recommend(users_idx, max(ks)), id_map).cache()
    return evaluate_metrics(truth, recs, ks=ks, **beyond), recs


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
    w = windows(st, day)
    ks = tuple(st.evaluation.ks)
    gate = st.evaluation.gate_metric
    with stage_run(lake, ctx.run_id, day, "evaluate") as rec:
        out = _models_dir(ctx)
        chosen, skipped = trained_models(out, st.models.enabled)
        missing = [m for m in st.models.enabled if m not in chosen and m not in skipped]
        if len(missing) == len(st.models.enabled):
            raise InputError(f"evaluate: no trained models for {day} in {out}; run train first")
        if missing:  # a train task that did not run: evaluate what there is
            report.note(f"not trained tonight: {', '.join(missing)}")
        for name, why in skipped.items():
            report.note(f"{name} not trained: {why}")
        for stale in (out / "selected.json", out / GATE_FILE):
            if stale.exists():
                stale.unlink()
        if not chosen:
            # Nothing to promote: the gate keeps whatever serves (score falls back to
            # popularity while there is too little history to train).
            nothing = GateDecision(
                metric=gate,
                tolerance=st.evaluation.gate_tolerance,
                challenger="none",
                challenger_value=float("nan"),
                champion=None,
                champion_value=None,
                champion_version=None,
                promoted=False,
                reason="no model trained tonight",
            )
            (out / GATE_FILE).write_text(json.dumps(nothing.as_dict(), indent=2))
            rec.message = report.note("no trained models tonight; nothing to evaluate")
            return report
        events = _events_up_to(lake, day, st.features.lookback_days)
        before_test = events.where(F.col(S.EVENT_TS) < F.lit(w.test_start))
        test = events.where(F.col(S.EVENT_TS) >= F.lit(w.test_start))
        split = Split(train=before_test, test=test)
        truth = truth_from_test(test, train=before_test, event_types=RELEVANT_EVENTS).cache()
        id_map = lake.read("gold.id_map").cache()
        items = lake.read("gold.item_features").where(F.col(S.AS_OF_DATE) == F.lit(day))
        categories = items.select(S.ITEM_ID, F.col("category_l1").alias(S.CATEGORY))
        popularity = before_test.groupBy(S.ITEM_ID).agg(F.countDistinct(S.USER_ID).alias("n_users"))
        n_users = before_test.select(S.USER_ID).distinct().count()
        users_idx = (
            to_idx(truth.withColumn(S.WEIGHT, F.lit(1.0)), id_map).select(S.USER_IDX).distinct()
        )
        results: dict[str, dict[str, float]] = {}
        rows: list[dict[str, Any]] = []
        now = utcnow()
        version = f"{day.isoformat()}:{ctx.run_id}"
        for name in chosen:
            model = MODEL_CLASSES[name].load(out / name)
            values, recs = _test_metrics(
                model,
                users_idx,
                id_map,
                truth,
                ks,
                catalog=items.select(S.ITEM_ID),
                item_categories=categories,
                item_popularity=popularity,
                n_users_total=n_users,
            )
            results[name] = values
            per_segment = {ALL: values}
            # Users and items unseen in training are reported apart (accuracy only).
            for segment, seg_truth in segment_truth(truth, split).items():
                if segment != ALL:
                    per_segment[segment] = evaluate_metrics(seg_truth, recs, ks=ks)
            model.release()
            recs.unpersist()
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
        k = max(ks)
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
                artifact_dir=out / name,
                run_date=day.isoformat(),
                run_id=ctx.run_id,
            )
            for name in results
        }
        best = max(results, key=lambda m: results[m].get(gate, float("-inf")))
        challenger = registry.register(
            runs[best],
            model_name=best,
            params=chosen[best]["params"],
            run_date=day.isoformat(),
            run_id=ctx.run_id,
            metric=gate,
            metric_value=results[best][gate],
        )
        champion = registry.champion()
        champion_value = _champion_on_split(
            champion, chosen, results, gate, ctx, w, before_test, id_map, users_idx, truth, ks
        )
        decision = decide(
            metric=gate,
            tolerance=st.evaluation.gate_tolerance,
            challenger=best,
            challenger_value=results[best][gate],
            champion=champion.model_name if champion else None,
            champion_value=champion_value,
            champion_version=champion.version if champion else None,
        )
        if decision.promoted or champion is None:
            selected = {"model": best, "params": chosen[best]["params"]}
            selected |= {"version": challenger.version, gate: results[best][gate]}
        else:
            selected = {"model": champion.model_name, "params": champion.params}
            selected |= {"version": champion.version, gate: champion_value}
        selected["promote"] = challenger.version if decision.promoted else None
        rows += gate_rows(
            decision,
            model_version=challenger.version,
            run_id=ctx.run_id,
            run_date=day,
            recorded_at=now,
        )
        lake.append_rows(rows, "ops.metrics")
        (out / GATE_FILE).write_text(json.dumps(decision.as_dict(), indent=2))
        (out / "selected.json").write_text(json.dumps(selected, indent=2, default=str))
        report.counts = {
            "models": len(results),
            "test_users": int(truth.select(S.USER_ID).distinct().count()),
        }
        report.validations.append(
            {
                "suite": "champion gate",
                "status": "promoted" if decision.promoted else "champion kept",
                "failures": [],
                "json": str(out / GATE_FILE),
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
        truth.unpersist()
        id_map.unpersist()
    return report


def _champion_on_split(
    champion: ModelVersion | None,
    chosen: dict[str, Any],
    results: dict[str, dict[str, float]],
    gate: str,
    ctx: RunContext,
    w: Windows,
    before_test: DataFrame,
    id_map: DataFrame,
    users_idx: DataFrame,
    truth: DataFrame,
    ks: tuple[int, ...],
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
    st = ctx.settings
    fit = _fit_frame(before_test, w.test_start, st, id_map)
    workdir = _models_dir(ctx) / "_work" / "champion"
    model = build_model(name, champion.params, seed=st.models.seed, workdir=workdir).fit(
        fit, n_items=n_items(id_map)
    )
    values, recs = _test_metrics(model, users_idx, id_map, truth, ks)
    model.release()
    recs.unpersist()
    return float(values[gate])


def score(ctx: RunContext) -> StageReport:
    """The selected model, refitted on all data up to D, into staged serving lists."""
    report = StageReport("score", ctx.run_date)
    lake, day, st = ctx.lake, ctx.run_date, ctx.settings
    sv = st.serving
    with stage_run(lake, ctx.run_id, day, "score") as rec:
        selected_file = _models_dir(ctx) / "selected.json"
        if selected_file.is_file():
            selected = json.loads(selected_file.read_text())
        else:  # too little history to evaluate yet: serve popularity
            selected = {"model": "popularity", "params": {}}
        name, params = selected["model"], selected["params"]
        version = (
            f"{st.registry.registered_model}/{selected['version']}"
            if selected.get("version")
            else f"{day.isoformat()}:{ctx.run_id}"
        )
        pairs = lake.read("gold.interactions").where(F.col(S.AS_OF_DATE) == F.lit(day))
        id_map = lake.read("gold.id_map").cache()
        items = lake.read("gold.item_features").where(F.col(S.AS_OF_DATE) == F.lit(day)).cache()
        fit = model_input(pairs, id_map).cache()
        model = build_model(
            name, params, seed=st.models.seed, workdir=_models_dir(ctx) / "_work" / "score"
        ).fit(fit, n_items=n_items(id_map))
        users = fit.select(S.USER_IDX).distinct()
        candidates = from_idx(model.recommend(users, sv.candidates), id_map).drop(S.RANK)
        events = _events_up_to(lake, day, st.features.lookback_days)
        purchased = events.where(F.col(S.EVENT_TYPE) == S.PURCHASE).select(S.USER_ID, S.ITEM_ID)
        recent = (
            lake.read("gold.user_sequences")
            .where(F.col(S.AS_OF_DATE) == F.lit(day))
            .select(S.USER_ID, F.explode(F.slice("item_ids", -5, 5)).alias(S.ITEM_ID))
        )
        cooc = lake.read("gold.item_cooccurrence").where(F.col(S.AS_OF_DATE) == F.lit(day))
        titles = _snapshot(lake, day).select(S.ITEM_ID, S.TITLE)

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
        )
        personal = add_reasons(ranked, recent, cooc, titles, personalized=name != "popularity")
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
        staged = {
            "gold.user_recommendations": user_recs,
            "gold.similar_items": similar,
            "gold.popular_items": popular,
        }
        for table_name, df in staged.items():
            path = lake.file_path(STAGED[table_name], ctx.run_id)
            df.write.format("delta").mode("overwrite").save(path)
            report.tables[table_name + " (staged)"] = (
                ctx.spark.read.format("delta").load(path).count()
            )
        (_models_dir(ctx) / "staged.json").write_text(
            json.dumps(
                {
                    "run_id": ctx.run_id,
                    "model": name,
                    "model_version": version,
                    "promote": selected.get("promote"),
                }
            )
        )
        model.release()
        rec.rows_out = report.tables["gold.user_recommendations (staged)"]
        rec.model_version = f"{name}@{version}"
        for df in (id_map, items, fit):
            df.unpersist()
    return report


def publish(ctx: RunContext) -> StageReport:
    """Replace the serving tables with tonight's staged lists, one commit each."""
    report = StageReport("publish", ctx.run_date)
    lake, day = ctx.lake, ctx.run_date
    with stage_run(lake, ctx.run_id, day, "publish") as rec:
        staged_file = _models_dir(ctx) / "staged.json"
        if not staged_file.is_file():
            raise InputError(f"publish: nothing staged for {day}; run score first")
        staged = json.loads(staged_file.read_text())
        run_id = staged["run_id"]
        frames = {
            name: ctx.spark.read.format("delta").load(lake.file_path(path, run_id))
            for name, path in STAGED.items()
        }
        versions = publish_tables(lake, frames, run_id=run_id)
        for name in versions:
            report.tables[name] = lake.read(name).count()
        rec.rows_out = report.tables["gold.user_recommendations"]
        rec.model_version = staged.get("model_version")
        rec.message = "versions " + ", ".join(f"{n}@{v}" for n, v in versions.items())
        if staged.get("promote"):
            # The lists are out: the model that made them is now the champion.
            Registry(ctx.settings.registry, lake.root).promote(staged["promote"])
            rec.message += f"; champion -> v{staged['promote']}"
        report.note(rec.message)
    return report
