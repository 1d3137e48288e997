"""Baselines on real retail data: Complete Journey with a time-based split.

    python -m shoprec.bench.completejourney [--path builtin] [--test-days 28]
        [--validation-days 28] [--models popularity,itemknn,als] [--json out.json]

The 84.51 Complete Journey transactions (2,469 households, ~92k products, one year)
are purchases only. The protocol is the nightly one, stretched to weeks because a
household shops about weekly:

* test: the last ``test_days`` days; the truth is each household's items bought
  there that it had not bought before (the "next new items" setup of
  :func:`~shoprec.evaluation.split.truth_from_test`; repeat purchases are what the
  serving filters let through for repeat categories, not what models are ranked on);
* validation: the ``validation_days`` before the test window choose each model's
  regularization from the conf grid (the nightly train stage's grid and grid search,
  :func:`~shoprec.models.tuning.grid_search`);
* the chosen setting is refitted on everything before the test window and ranked
  over the whole catalog.

Weights are the nightly ones (:func:`~shoprec.features.interactions.interactions`:
purchase weight, half-life decay). Models the catalog is too large for (EASE when
its dense item-item matrix would not fit in the driver's free memory) are reported
as skipped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.config import MODEL_NAMES, Settings, load_settings
from shoprec.errors import InputError, ShoprecError
from shoprec.evaluation.metrics import evaluate, format_table
from shoprec.evaluation.split import truth_from_test
from shoprec.features.interactions import interactions
from shoprec.ingest.formats import completejourney_dir
from shoprec.lake import is_local, local_path
from shoprec.models.factory import build_model, candidate_grid
from shoprec.models.tuning import grid_search, ndcg_metric
from shoprec.spark import build_spark

PROTOCOL = "time_split"
DEFAULT_MODELS = ("popularity", "itemknn", "als")


def read_purchases(spark: SparkSession, path: str = "builtin") -> DataFrame:
    """Transactions as silver-shaped purchase events (user, item, type, timestamp, date)."""
    base = completejourney_dir() if path in ("", "builtin") else path
    target = base if base.endswith(".parquet") else f"{base.rstrip('/')}/transactions.parquet"
    if is_local(target) and not Path(local_path(target)).exists():
        raise InputError(f"--path: {target} does not exist")
    df = spark.read.parquet(target)
    missing = {"household_id", "product_id", "transaction_timestamp"} - set(df.columns)
    if missing:
        raise InputError(f"--path {target}: missing columns {', '.join(sorted(missing))}")
    ts = F.col("transaction_timestamp").cast("timestamp")
    return df.select(
        F.col("household_id").cast("string").alias(S.USER_ID),
        F.col("product_id").cast("string").alias(S.ITEM_ID),
        F.lit(S.PURCHASE).alias(S.EVENT_TYPE),
        ts.alias(S.EVENT_TS),
        F.to_date(ts).alias(S.EVENT_DATE),
    ).where(F.col(S.USER_ID).isNotNull() & F.col(S.ITEM_ID).isNotNull())


def _dense(ids: DataFrame, column: str, idx: str) -> DataFrame:
    """Dense 0-based indices in id order (a benchmark's id map; the pipeline keeps gold.id_map)."""
    order = Window.orderBy(column)
    return ids.select(column).distinct().select(column, (F.row_number().over(order) - 1).alias(idx))


def _to_idx(pairs: DataFrame, users: DataFrame, items: DataFrame) -> DataFrame:
    return pairs.join(users, S.USER_ID).join(items, S.ITEM_ID)


def run(
    spark: SparkSession,
    *,
    path: str = "builtin",
    settings: Settings | None = None,
    models: Sequence[str] = DEFAULT_MODELS,
    ks: Sequence[int] = (10, 20),
    test_days: int = 28,
    validation_days: int = 28,
) -> dict[str, Any]:
    """Every model, tuned on validation, evaluated on the test window; JSON-ready results."""
    st = settings or Settings()
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown:
        raise InputError(
            f"--models: unknown {', '.join(unknown)} (known: {', '.join(MODEL_NAMES)})"
        )
    if test_days < 1 or validation_days < 1:
        raise InputError("--test-days and --validation-days must be >= 1")
    events = read_purchases(spark, path).persist(StorageLevel.MEMORY_AND_DISK)
    last = events.agg(F.max(S.EVENT_TS)).first()
    if last is None or last[0] is None:
        raise InputError(f"--path {path}: no transactions")
    end_day: dt.date = last[0].date()
    test_start = dt.datetime.combine(end_day - dt.timedelta(days=test_days - 1), dt.time())
    val_start = test_start - dt.timedelta(days=validation_days)
    before_val = events.where(F.col(S.EVENT_TS) < F.lit(val_start))
    validation = events.where(
        (F.col(S.EVENT_TS) >= F.lit(val_start)) & (F.col(S.EVENT_TS) < F.lit(test_start))
    )
    before_test = events.where(F.col(S.EVENT_TS) < F.lit(test_start))
    test = events.where(F.col(S.EVENT_TS) >= F.lit(test_start))

    users = _dense(events, S.USER_ID, S.USER_IDX).persist()
    items = _dense(events, S.ITEM_ID, S.ITEM_IDX).persist()
    n_items = items.count()
    f = st.features

    def weighted(df: DataFrame, as_of: dt.datetime) -> DataFrame:
        pairs = interactions(
            df,
            as_of=(as_of - dt.timedelta(days=1)).date(),
            weights=f.event_weights,
            half_life_days=f.half_life_days,
        )
        return (
            _to_idx(pairs, users, items)
            .select(S.USER_IDX, S.ITEM_IDX, S.WEIGHT, F.col("last_event_ts").alias(S.LAST_TS))
            .persist(StorageLevel.MEMORY_AND_DISK)
        )

    fit_val, fit_test = weighted(before_val, val_start), weighted(before_test, test_start)
    truth_val = _to_idx(truth_from_test(validation, train=before_val), users, items).select(
        S.USER_IDX, S.ITEM_IDX
    )
    truth = truth_from_test(test, train=before_test).persist()
    test_users = _to_idx(truth, users, items).select(S.USER_IDX).distinct()

    k = max(ks)
    grid = candidate_grid(st.models, models)
    result: dict[str, Any] = {
        "protocol": PROTOCOL,
        "data": "completejourney",
        "n_users": users.count(),
        "n_items": n_items,
        "n_train_interactions": fit_test.count(),
        "n_test_interactions": truth.count(),
        "n_test_users": truth.select(S.USER_ID).distinct().count(),
        "test_start": test_start.date().isoformat(),
        "validation_start": val_start.date().isoformat(),
        "end_date": end_day.isoformat(),
        "ks": list(ks),
        "models": list(models),
    }
    for name in models:
        started = time.perf_counter()
        choice = grid_search(
            grid[name],
            functools.partial(build_model, name, seed=st.models.seed),
            fit_val,
            truth_val,
            metric_fn=ndcg_metric(k),
            k=k,
            n_items=n_items,
        )
        if choice.params is None:  # every setting refused, e.g. EASE over its item limit
            result[name] = {"skipped": choice.skipped}
            continue
        params, validation_ndcg = choice.params, choice.metric
        tuned = time.perf_counter()
        try:
            model = build_model(name, params, seed=st.models.seed).fit(fit_test, n_items=n_items)
        except ValueError as err:
            result[name] = {"skipped": str(err)}
            continue
        fit_seconds = time.perf_counter() - tuned
        recs = _from_idx(model.recommend(test_users, k), users, items).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        values = evaluate(truth, recs, ks=ks)
        recs.unpersist()
        model.release()
        result[name] = {
            **{key: float(v) for key, v in values.items() if key != "n_users"},
            f"validation_ndcg@{k}": validation_ndcg,
            "params": params,
            "settings_tried": len(grid[name]),
            "tuning_seconds": round(tuned - started, 1),
            "fit_seconds": round(fit_seconds, 1),  # the refit on everything before the test
            "seconds": round(time.perf_counter() - started, 1),
        }
    for df in (events, users, items, fit_val, fit_test, truth):
        df.unpersist()
    return result


def _from_idx(recs: DataFrame, users: DataFrame, items: DataFrame) -> DataFrame:
    return (
        recs.join(users, S.USER_IDX)
        .join(items, S.ITEM_IDX)
        .select(S.USER_ID, S.ITEM_ID, S.SCORE, S.RANK)
    )


def table(result: dict[str, Any]) -> str:
    """The accuracy table of a :func:`run` result; skipped models listed below it."""
    ks: list[int] = result["ks"]
    metrics = [f"{m}@{k}" for k in ks for m in ("recall", "ndcg")] + ["mrr"]
    rows = {n: {m: result[n][m] for m in metrics} for n in result["models"] if "mrr" in result[n]}
    notes = [f"{n}: skipped: {result[n]['skipped']}" for n in result["models"] if n not in rows]
    notes += [
        f"{n}: tuned over {result[n]['settings_tried']} settings in {result[n]['tuning_seconds']} s, "
        f"refitted in {result[n]['fit_seconds']} s, {result[n]['seconds']} s in all"
        for n in rows
        if "fit_seconds" in result[n]
    ]
    head = (
        f"completejourney {PROTOCOL}: {result['n_users']:,} households, "
        f"{result['n_items']:,} products, test from {result['test_start']} "
        f"({result['n_test_users']:,} households with new items)"
    )
    return "\n".join([head, format_table(rows, metrics), *notes])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shoprec.bench.completejourney")
    parser.add_argument("--path", default="builtin", help="folder with transactions.parquet")
    parser.add_argument("--conf", default=None, help="conf file for weights and model grids")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument("--k", default="10,20")
    parser.add_argument("--test-days", type=int, default=28)
    parser.add_argument("--validation-days", type=int, default=28)
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.conf) if args.conf else Settings()
        ks = [int(x) for x in args.k.split(",") if x.strip()]
        spark = build_spark(settings.spark)
        started = time.perf_counter()
        result = run(
            spark,
            path=args.path,
            settings=settings,
            models=[m.strip() for m in args.models.split(",") if m.strip()],
            ks=ks,
            test_days=args.test_days,
            validation_days=args.validation_days,
        )
        result["wall_seconds"] = round(time.perf_counter() - started, 1)
    except (ShoprecError, ValueError) as err:
        print(f"shoprec benchmark: {err}", file=sys.stderr)
        return 2
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
