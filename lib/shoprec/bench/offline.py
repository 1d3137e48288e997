"""Offline model comparison on fixed public splits: ``shoprec benchmark``.

    python -m shoprec.bench.offline --train train.txt --test test.txt [--models ...] [--k 10,20]
    python -m shoprec.bench.offline --sequences sequences.txt [--json results.json]

Two protocols, both full ranking (every item except the user's training items, top
``max(ks)``) scored by :func:`shoprec.evaluation.metrics.evaluate`:

* ``fixed_split``: the interaction lists of the public NGCF / LightGCN / KGAT splits,
  one line ``user_id item_id item_id ...`` per user in ``train.txt`` and ``test.txt``.
  Train pairs get weight 1.0; the truth is the test pairs; the test users are ranked.
* ``leave_one_out``: time-ordered lines ``user_id item item ...`` (the SASRec / S3-Rec
  form); each user's last item is the test item, the rest train (users with one item
  train only). The models drop each user's training items from the ranking, so a
  held-out item that repeats an earlier item of the same user cannot be hit; how many
  users that is is reported as ``n_users_repeat_target``.

Ids are non-negative integers but need not be dense: ``n_items`` is the largest item
id + 1. Files are read and validated in Spark; a malformed line is reported with its
file and line number.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.config import MODEL_NAMES, Settings, load_settings
from shoprec.errors import InputError, ShoprecError
from shoprec.evaluation.metrics import evaluate, format_table
from shoprec.evaluation.split import LEAVE_ONE_OUT, leave_one_out
from shoprec.lake import is_local, local_path
from shoprec.models.factory import build_model, candidate_grid
from shoprec.spark import build_spark

FIXED_SPLIT = "fixed_split"
DEFAULT_MODELS: tuple[str, ...] = tuple(MODEL_NAMES)
DEFAULT_KS: tuple[int, ...] = (10, 20)
ITEM_IDS = "item_ids"

# One line: whitespace-separated non-negative integers (at most 18 digits, so any id
# fits a long), or nothing. A line is split on whitespace and each token checked on its
# own: one pattern over the whole line with a repeated group made Java's regex engine
# recurse once per token (java.lang.StackOverflowError on a 3,583-item line). Written
# so that Java (split, rlike) and Python (re) read it alike.
_WS = r"[ \t\f\r\x0B]+"
ID_PATTERN = r"^[0-9]{1,18}$"
_TOKEN = re.compile(ID_PATTERN)


def _tokens(line: Column) -> Column:
    return F.filter(F.split(line, _WS), lambda t: t != "")


def _bad_line(line: Column) -> Column:
    """True where the line holds anything but whitespace-separated ids."""
    return ~F.forall(_tokens(line), lambda t: t.rlike(ID_PATTERN))


@dataclass(frozen=True)
class BenchData:
    """One protocol's inputs, ready for the models: dense-index train, id-space truth."""

    protocol: str
    train: DataFrame  # user_idx, item_idx, weight (1.0), one row per pair
    truth: DataFrame  # user_id, item_id: the relevant test pairs
    n_users: int
    n_items: int
    counts: dict[str, int]  # further top-level figures for the report


# ------------------------------------------------------------------ reading
def _check_exists(path: str, flag: str) -> None:
    if is_local(path) and not Path(local_path(path)).exists():
        raise InputError(f"{flag} {path}: no such file")


def _first_bad_line(spark: SparkSession, path: str) -> tuple[int, str] | None:
    """The first bad line's 1-based number and its first bad token, if any."""
    ws, ident = re.compile(_WS), _TOKEN  # the lambda carries them: executors import nothing

    def bad_token(line: str) -> str | None:
        return next((t for t in ws.split(line) if t and not ident.match(t)), None)

    hits = (
        spark.sparkContext.textFile(path)
        .zipWithIndex()
        .map(lambda pair: (pair[1], bad_token(pair[0])))
        .filter(lambda pair: pair[1] is not None)
        .take(1)
    )
    if not hits:
        return None
    index, token = hits[0]
    return index + 1, str(token)


def read_id_lists(spark: SparkSession, path: str, *, flag: str = "--train") -> DataFrame:
    """Read ``user_id id id ...`` lines into ``user_id long, item_ids array<long>``.

    Blank lines are skipped; a line may hold a user without items (an empty array).
    Item order within a line is kept. A line with anything but non-negative integers
    raises :class:`InputError` naming ``path`` and the line number.
    """
    _check_exists(path, flag)
    try:
        lines = spark.read.text(path)
    except AnalysisException as err:
        raise InputError(f"{flag} {path}: cannot read ({str(err).splitlines()[0]})") from err
    if lines.where(_bad_line(F.col("value"))).limit(1).count():
        bad = _first_bad_line(spark, path)
        where = f"{path}:{bad[0]}" if bad else path
        token = f" {bad[1]!r}" if bad else " a malformed line"
        raise InputError(
            f"{flag} {where}: expected whitespace-separated non-negative integer ids, got{token}"
        )
    return (
        lines.select(_tokens(F.col("value")).alias("_t"))
        .where(F.size("_t") >= 1)
        .select(
            F.element_at("_t", 1).cast("long").alias(S.USER_ID),
            F.transform(F.slice("_t", F.lit(2), F.size("_t")), lambda t: t.cast("long")).alias(
                ITEM_IDS
            ),
        )
    )


def _pairs(lists: DataFrame) -> DataFrame:
    """``user_id, item_id, position`` (the item's 0-based place in its line)."""
    return lists.select(S.USER_ID, F.posexplode(ITEM_IDS).alias(S.POSITION, S.ITEM_ID))


def _to_train(pairs: DataFrame) -> DataFrame:
    """``user_id, item_id, position`` -> distinct ``user_idx, item_idx, weight=1.0,
    last_ts`` (the item's last position in the user's line: line order is time order
    for the sequential models), cached."""
    return (
        pairs.groupBy(
            F.col(S.USER_ID).alias(S.USER_IDX),
            F.col(S.ITEM_ID).alias(S.ITEM_IDX),
        )
        .agg(F.max(S.POSITION).cast("long").alias(S.LAST_TS))
        .withColumn(S.WEIGHT, F.lit(1.0))
        .select(S.USER_IDX, S.ITEM_IDX, S.WEIGHT, S.LAST_TS)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )


def _split_counts(train: DataFrame, truth: DataFrame) -> dict[str, int]:
    """Users, largest item id and the split's sizes and overlaps, in one Spark job."""
    flags = (
        train.select(
            F.col(S.USER_IDX).alias(S.USER_ID),
            F.col(S.ITEM_IDX).alias(S.ITEM_ID),
            F.lit(1).alias("_tr"),
            F.lit(0).alias("_te"),
        )
        .unionByName(
            truth.select(S.USER_ID, S.ITEM_ID, F.lit(0).alias("_tr"), F.lit(1).alias("_te"))
        )
        .groupBy(S.USER_ID, S.ITEM_ID)
        .agg(F.max("_tr").alias("_tr"), F.max("_te").alias("_te"))
    )
    per_user = flags.groupBy(S.USER_ID).agg(
        F.sum("_tr").alias("_ntr"),
        F.sum("_te").alias("_nte"),
        F.sum(F.col("_tr") * F.col("_te")).alias("_both"),
        F.max(S.ITEM_ID).alias("_max"),
    )
    row = per_user.agg(
        F.count("*").alias("n_users"),
        F.max("_max").alias("max_item"),
        F.sum("_ntr").alias("n_train_interactions"),
        F.sum("_nte").alias("n_test_interactions"),
        F.sum(F.when(F.col("_nte") > 0, 1).otherwise(0)).alias("n_test_users"),
        F.sum(F.when((F.col("_nte") > 0) & (F.col("_ntr") == 0), 1).otherwise(0)).alias(
            "n_test_users_without_train"
        ),
        F.sum("_both").alias("n_test_pairs_in_train"),
    ).first()
    assert row is not None
    return {key: int(value or 0) for key, value in row.asDict().items()}


def fixed_split_data(spark: SparkSession, train_path: str, test_path: str) -> BenchData:
    """The ``fixed_split`` protocol's inputs from two interaction-list files."""
    train = _to_train(_pairs(read_id_lists(spark, train_path, flag="--train")))
    truth = (
        _pairs(read_id_lists(spark, test_path, flag="--test"))
        .select(S.USER_ID, S.ITEM_ID)
        .distinct()
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    counts = _split_counts(train, truth)
    for flag, path, key in (
        ("--train", train_path, "n_train_interactions"),
        ("--test", test_path, "n_test_interactions"),
    ):
        if counts[key] == 0:
            train.unpersist()
            truth.unpersist()
            raise InputError(f"{flag} {path}: no user-item pairs")
    n_users = counts.pop("n_users")
    n_items = counts.pop("max_item") + 1
    return BenchData(FIXED_SPLIT, train, truth, n_users, n_items, counts)


def leave_one_out_data(spark: SparkSession, sequences_path: str) -> BenchData:
    """The ``leave_one_out`` protocol's inputs from a file of time-ordered sequences."""
    seqs = read_id_lists(spark, sequences_path, flag="--sequences").persist(
        StorageLevel.MEMORY_AND_DISK
    )
    dup = seqs.groupBy(S.USER_ID).count().where(F.col("count") > 1).first()
    if dup is not None:
        raise InputError(
            f"--sequences {sequences_path}: user {dup[S.USER_ID]} has more than one line "
            "(expected one time-ordered sequence per user)"
        )
    split = leave_one_out(seqs, items_col=ITEM_IDS)
    train = _to_train(split.train)
    truth = split.test.select(S.USER_ID, S.ITEM_ID).persist(StorageLevel.MEMORY_AND_DISK)
    n_test = truth.count()
    if n_test == 0:
        raise InputError(
            f"--sequences {sequences_path}: no user has two or more items to hold one out"
        )
    row = (
        seqs.where(F.size(ITEM_IDS) >= 1)
        .agg(F.count("*").alias("users"), F.max(F.array_max(ITEM_IDS)).alias("max_item"))
        .first()
    )
    assert row is not None
    seen = split.train.select(S.USER_ID, S.ITEM_ID)
    counts = {
        "n_train_interactions": train.count(),
        "n_test_interactions": n_test,
        "n_test_users": n_test,
        "n_users_repeat_target": truth.join(seen, [S.USER_ID, S.ITEM_ID], "left_semi").count(),
    }
    seqs.unpersist()
    return BenchData(
        LEAVE_ONE_OUT, train, truth, int(row["users"]), int(row["max_item"]) + 1, counts
    )


# ------------------------------------------------------------------ running
def default_params(name: str, settings: Settings | None = None) -> dict[str, Any]:
    """The first setting of ``name``'s nightly search grid under ``settings``' models
    section (default settings when None), whether or not ``models.enabled`` has it."""
    if name not in DEFAULT_MODELS:
        raise InputError(f"--models: unknown model {name!r} (known: {', '.join(DEFAULT_MODELS)})")
    return dict(candidate_grid((settings or Settings()).models, [name])[name][0])


def _bench_model(
    name: str,
    params: dict[str, Any],
    data: BenchData,
    ks: Sequence[int],
    seed: int,
) -> dict[str, Any]:
    """Fit, score and evaluate one model; ``{"skipped": reason}`` if it refuses the data."""
    try:
        model = build_model(name, params, seed=seed)
    except TypeError as err:
        raise InputError(f"{name}: bad params {params} ({err})") from err
    except ValueError as err:
        return {"skipped": str(err)}
    started = time.perf_counter()
    try:
        model.fit(data.train, n_items=data.n_items)
    except ValueError as err:  # e.g. EASE over its item limit
        model.release()
        return {"skipped": str(err)}
    fitted = time.perf_counter()
    users = data.truth.select(F.col(S.USER_ID).alias(S.USER_IDX)).distinct()
    recs = (
        model.recommend(users, max(ks))
        .withColumnRenamed(S.USER_IDX, S.USER_ID)
        .withColumnRenamed(S.ITEM_IDX, S.ITEM_ID)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    recs.count()
    scored = time.perf_counter()
    values = evaluate(data.truth, recs, ks=ks)
    done = time.perf_counter()
    recs.unpersist()
    model.release()
    out: dict[str, Any] = {
        key: (int(v) if key == "n_users" else float(v)) for key, v in values.items()
    }
    out |= {
        "fit_seconds": round(fitted - started, 2),
        "score_seconds": round(scored - fitted, 2),
        "eval_seconds": round(done - scored, 2),
    }
    trained = getattr(model, "train_result", None)
    if trained is not None and trained.losses:
        epochs = len(trained.losses) - trained.start_epoch
        out |= {
            "epochs": len(trained.losses),
            "best_epoch": trained.best_epoch,
            "epoch_seconds": round(trained.seconds / max(epochs, 1), 2),
            "validation_ndcg": [round(x, 4) for x in trained.scores],
        }
    return out


def run_benchmark(
    spark: SparkSession,
    *,
    train_path: str | None,
    test_path: str | None,
    sequences_path: str | None,
    models: list[str],
    ks: list[int],
    params: dict[str, dict[str, Any]] | None = None,
    seed: int = 7,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Fit and evaluate ``models`` on one protocol; the JSON-ready results.

    Give ``train_path`` and ``test_path`` (``fixed_split``) or ``sequences_path``
    (``leave_one_out``). Each model runs with the first setting of its nightly grid
    (from ``settings``' models section), or with ``params[name]`` where given. An
    item's position in its line is passed as ``last_ts``: the sequential models read
    line order as time order. Returns ``{"protocol", "n_users", "n_items",
    "ks", "models", "params", <counts>, <model>: {metric: value, ...,
    "fit_seconds", "score_seconds", "eval_seconds"}}``; a model that raises
    ValueError (EASE over ``max_items``) is ``{"skipped": reason}`` and the rest run.
    Scoring is spread over the session's default parallelism unless a model's params
    set ``partitions``. Under leave-one-out a held-out item the user already had in
    train is excluded from its ranking and cannot be hit (``n_users_repeat_target``).
    """
    ks = _check_ks(ks)
    names = _check_models(models)
    chosen = {name: default_params(name, settings) for name in names}
    for name, override in (params or {}).items():
        if name not in chosen:
            raise InputError(f"params given for {name!r}, which is not among models {names}")
        chosen[name] = dict(override)
    _check_inputs(train_path, test_path, sequences_path)
    if sequences_path is not None:
        data = leave_one_out_data(spark, sequences_path)
    else:
        assert train_path is not None and test_path is not None
        data = fixed_split_data(spark, train_path, test_path)

    result: dict[str, Any] = {
        "protocol": data.protocol,
        "n_users": data.n_users,
        "n_items": data.n_items,
        "ks": list(ks),
        "models": names,
        "params": chosen,
        **data.counts,
    }
    parallelism = spark.sparkContext.defaultParallelism
    try:
        for name in names:
            run_params = {"partitions": parallelism, **chosen[name]}
            result[name] = _bench_model(name, run_params, data, ks, seed)
    finally:
        data.train.unpersist()
        data.truth.unpersist()
    return result


# ------------------------------------------------------------------ command line
def _check_inputs(train: str | None, test: str | None, sequences: str | None) -> None:
    if sequences is not None:
        if train is not None or test is not None:
            raise InputError("give either --sequences or --train and --test, not both")
    elif train is not None and test is None:
        raise InputError("--train needs --test (or use --sequences)")
    elif test is not None and train is None:
        raise InputError("--test needs --train (or use --sequences)")
    elif train is None:
        raise InputError("give --train and --test, or --sequences")


def _check_ks(ks: Sequence[int]) -> list[int]:
    out = list(dict.fromkeys(ks))
    if not out or min(out) < 1:
        raise InputError(f"--k: expected positive integers, got {list(ks)}")
    return out


def _check_models(models: Sequence[str]) -> list[str]:
    out = list(dict.fromkeys(models))
    if not out:
        raise InputError("--models: no model given")
    unknown = [m for m in out if m not in DEFAULT_MODELS]
    if unknown:
        raise InputError(
            f"--models: unknown model {unknown[0]!r} (known: {', '.join(DEFAULT_MODELS)})"
        )
    return out


def _parse_ks(text: str) -> list[int]:
    try:
        return _check_ks([int(t) for t in text.split(",") if t.strip()])
    except ValueError as err:
        raise InputError(f"--k: expected comma-separated positive integers, got {text!r}") from err


def table(result: dict[str, Any]) -> str:
    """The recall@k and ndcg@k table of a :func:`run_benchmark` result, skips listed below."""
    ks: list[int] = result["ks"]
    metrics = [f"{m}@{k}" for k in ks for m in ("recall", "ndcg")]
    rows: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    for name in result["models"]:
        values = result[name]
        if "skipped" in values:
            rows[name] = {}
            notes.append(f"{name}: skipped: {values['skipped']}")
            continue
        rows[name] = {m: values[m] for m in metrics}
        note = (
            f"{name}: fit {values['fit_seconds']:.1f}s, score {values['score_seconds']:.1f}s, "
            f"evaluate {values['eval_seconds']:.1f}s"
        )
        if "epochs" in values:
            best = values["best_epoch"]
            note += f"; {values['epochs']} epochs of {values['epoch_seconds']:.1f}s" + (
                f", best {best} by validation ndcg@20" if best else ""
            )
        notes.append(note)
    head = (
        f"{result['protocol']}: {result['n_users']:,} users, {result['n_items']:,} items, "
        f"{result['n_test_users']:,} test users"
    )
    return "\n".join([head, format_table(rows, metrics), *notes])


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``benchmark`` arguments (shared with the ``shoprec`` CLI)."""
    parser = argparse.ArgumentParser(
        prog="shoprec benchmark",
        description="Compare the recommenders offline on a fixed public split or on "
        "leave-one-out sequences.",
    )
    parser.add_argument("--train", help="interaction lists: 'user_id item_id ...' per line")
    parser.add_argument("--test", help="test interaction lists, same format as --train")
    parser.add_argument("--sequences", help="time-ordered 'user_id item ...' lines (leave-one-out)")
    parser.add_argument(
        "--models",
        default=",".join(DEFAULT_MODELS),
        help="comma-separated models (default: %(default)s)",
    )
    parser.add_argument(
        "--k",
        default=",".join(map(str, DEFAULT_KS)),
        help="comma-separated cutoffs (default: %(default)s)",
    )
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument(
        "--conf",
        help="config file: its spark section builds the session, its models section "
        "sets each model's parameters (the first setting of each grid)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from command-line arguments; print the table, write the JSON."""
    args = build_parser().parse_args(argv)
    ks = _parse_ks(args.k)
    models = _check_models([m.strip() for m in args.models.split(",") if m.strip()])
    _check_inputs(args.train, args.test, args.sequences)
    for flag, path in (
        ("--train", args.train),
        ("--test", args.test),
        ("--sequences", args.sequences),
    ):
        if path is not None:
            _check_exists(path, flag)
    settings = load_settings(args.conf) if args.conf else Settings()
    spark = build_spark(settings.spark)
    result = run_benchmark(
        spark,
        train_path=args.train,
        test_path=args.test,
        sequences_path=args.sequences,
        models=models,
        ks=ks,
        seed=settings.models.seed,
        settings=settings,
    )
    print(table(result), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(_json_safe(result), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except ShoprecError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None
