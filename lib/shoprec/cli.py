"""The ``shoprec`` command line: thin wrappers over the stages and the read commands.

Bad input or configuration prints one line naming what is wrong and exits
non-zero; tracebacks only with ``--verbose``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from shoprec.config import MODEL_NAMES, Settings, SourceConfig, load_settings
from shoprec.dates import date_range, parse_run_date
from shoprec.errors import ShoprecError

DEFAULT_CONF = "conf/local.yaml"


def _default_conf() -> str | None:
    return DEFAULT_CONF if Path(DEFAULT_CONF).is_file() else None


def _spark(settings: Settings):  # type: ignore[no-untyped-def]  # pyspark import is slow; keep it lazy
    from shoprec.spark import build_spark

    return build_spark(settings.spark)


# ------------------------------------------------------------------ commands
def cmd_generate(args: argparse.Namespace) -> int:
    from shoprec.synthetic import ShopSpec, generate_shop

    try:
        spec = ShopSpec(
            users=args.users,
            items=args.items,
            days=args.days,
            seed=args.seed,
            start_date=parse_run_date(args.start_date),
            dirty_rate=args.dirty_rate,
        )
    except ValueError as err:
        raise ShoprecError(f"generate: {err}") from None
    report = generate_shop(spec, Path(args.out), overwrite=args.overwrite)
    print(f"generated {report.events_written:,} events over {spec.days} days into {args.out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from shoprec.lake import Lake
    from shoprec.stages import summary
    from shoprec.stages.nightly import run_nightly
    from shoprec.synthetic import ShopSpec, as_source, generate_shop

    settings = load_settings(args.conf)
    overrides: dict[str, object] = {}
    if args.days is not None:
        overrides["days"] = args.days
    if args.users is not None:
        overrides["users"] = args.users
    if args.items is not None:
        overrides["items"] = args.items
    if args.lake is not None:
        settings = settings.with_overrides({"lake": {"root": args.lake}})
    if overrides:
        settings = settings.with_overrides({"demo": overrides})
    d = settings.demo
    start = parse_run_date(d.start_date)
    spec = ShopSpec(
        users=d.users,
        items=d.items,
        days=d.days,
        seed=d.seed,
        start_date=start,
        dirty_rate=d.dirty_rate,
    )
    print(
        f"demo: generating a synthetic shop ({d.users} users, {d.items} items, {d.days} days) in {d.out_dir}"
    )
    generate_shop(spec, Path(d.out_dir), overwrite=True)
    settings = settings.with_overrides({"sources": [as_source(d.out_dir)]})
    spark = _spark(settings)
    nights = []
    started = time.perf_counter()
    for day in date_range(start, d.days):

        def progress(stage: str, seconds: float, day: object = day) -> None:
            print(f"demo: {day} {stage:<10} {seconds:6.1f}s", flush=True)

        nights.append(run_nightly(spark, settings, day, on_stage=progress))
    print(f"demo: {d.days} nights in {time.perf_counter() - started:.0f}s\n")
    print(summary.render(Lake(spark, settings.lake.root), nights))
    return 0


def cmd_nightly(args: argparse.Namespace) -> int:
    from shoprec.lake import Lake
    from shoprec.stages import summary
    from shoprec.stages.nightly import run_nightly

    settings = load_settings(args.conf)
    day = parse_run_date(args.date)
    spark = _spark(settings)
    night = run_nightly(spark, settings, day)
    print(summary.render(Lake(spark, settings.lake.root), [night]))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from shoprec.stages.nightly import STAGES, run_stage

    settings = load_settings(args.conf)
    day = parse_run_date(args.date)
    if args.stage not in STAGES:
        raise ShoprecError(f"unknown stage {args.stage!r}; known: {', '.join(STAGES)}")
    models = _models(args.models, args.stage) if args.models else None
    if models is not None and not set(models) & set(settings.models.enabled):
        # The DAG has a train task per neural model whatever the conf enables: no Spark work.
        print(f"train {day}: none of {', '.join(models)} is in models.enabled; nothing to train")
        return 0
    report = run_stage(
        _spark(settings), settings, args.stage, day, run_id=args.run_id, models=models
    )
    for table_name, rows in report.tables.items():
        print(f"{args.stage} {day}: {table_name} {rows:,} rows")
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    """The champion gate's decision as JSON: the Airflow DAG branches on it."""
    import json

    from shoprec.lake import LakeFiles, Storage, StorageOptions
    from shoprec.stages.handoff import read_gate

    settings = load_settings(args.conf)
    day = parse_run_date(args.date)
    # No Spark: the lake's files through the filesystem settings conf gives Spark
    options = StorageOptions.from_hadoop(settings.spark.conf)
    decision = read_gate(LakeFiles(settings.lake.root, Storage(options)), day)
    if decision is None:
        raise ShoprecError(f"gate: no decision for {day}; run evaluate for that date first")
    print(json.dumps(decision.as_dict(), sort_keys=True))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from shoprec.ingest.formats import get_format
    from shoprec.stages.context import RunContext
    from shoprec.stages.ingest import ingest
    from shoprec.stages.runs import new_run_id

    settings = load_settings(args.conf)
    day = parse_run_date(args.date)
    get_format(args.source)
    source = SourceConfig(
        name=args.name or args.source, format=args.source, events=args.path, catalog=args.catalog
    )
    ctx = RunContext.create(_spark(settings), settings, day, new_run_id(day))
    report = ingest(ctx, [source])
    for table_name, rows in report.tables.items():
        print(f"ingest {day} {source.name}: {table_name} {rows:,} rows")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from pyspark.sql import functions as F

    from shoprec.lake import Lake
    from shoprec.serving.publish import current as current_publication_row

    settings = load_settings(args.conf)
    day = parse_run_date(args.date)
    lake = Lake(_spark(settings), settings.lake.root)
    rows = (
        lake.read("ops.runs").where(F.col("run_date") == F.lit(day)).orderBy("started_at").collect()
    )
    if not rows:
        print(f"no runs recorded for {day}")
        return 1
    print(
        f"{'stage':<10} {'status':<8} {'started (UTC)':<20} {'secs':>6} {'in':>10} {'out':>10} "
        f"{'quar.':>8} {'dup.':>7}  validation  run id"
    )
    for r in rows:
        secs = (r["ended_at"] - r["started_at"]).total_seconds() if r["ended_at"] else float("nan")
        print(
            f"{r['stage']:<10} {r['status']:<8} {r['started_at']:%Y-%m-%d %H:%M:%S} {secs:>7.1f} "
            f"{r['rows_in'] or 0:>10,} {r['rows_out'] or 0:>10,} {r['rows_quarantined'] or 0:>8,} "
            f"{r['rows_duplicate'] or 0:>7,}  {r['validation'] or '-':<10}  {r['run_id']}"
        )
        if r["message"]:
            print(f"           {r['message']}")
    served = current_publication_row(lake)
    if served is not None:
        runs = ", ".join(f"{t} {served.runs[t]}" for t in sorted(served.runs))
        print(
            f"served now: publication {served.number} ({served.action}, "
            f"{served.published_at:%Y-%m-%d %H:%M:%S} UTC): {runs}"
        )
    return 0


def _serving_rows(settings: Settings, table: str, key: str, value: str) -> list[Any]:
    from pyspark.sql import functions as F

    from shoprec.lake import Lake
    from shoprec.serving.publish import read_published

    lake = Lake(_spark(settings), settings.lake.root)
    if not lake.exists(table):
        raise ShoprecError(f"{table}: nothing published yet in {lake.root}; run the pipeline first")
    return read_published(lake, table).where(F.col(key) == value).orderBy("rank").collect()


def cmd_recs(args: argparse.Namespace) -> int:
    from shoprec.clean.privacy import pseudonym_of

    settings = load_settings(args.conf)
    user = args.user
    if not user.startswith("p_"):  # a shop user id: look it up by its pseudonym
        user = pseudonym_of(user, settings.privacy.resolve_key())
    rows = _serving_rows(settings, "gold.user_recommendations", "user_id", user)
    if not rows:
        print(
            f"no recommendations for user {args.user!r} (new or anonymous users get gold.popular_items)"
        )
        return 1
    first = rows[0]
    print(
        f"user {args.user}: model {first['model_name']} {first['model_version']}, run {first['run_id']}"
    )
    for r in rows:
        print(f"{r['rank']:>3}  {r['item_id']:<14} {r['score']:>9.4f}  {r['reason']}")
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    settings = load_settings(args.conf)
    rows = _serving_rows(settings, "gold.similar_items", "item_id", args.item)
    if not rows:
        print(f"no similar items for item {args.item!r}")
        return 1
    print(f"item {args.item}: model {rows[0]['model_version']}, run {rows[0]['run_id']}")
    for r in rows:
        print(f"{r['rank']:>3}  {r['similar_item_id']:<14} {r['score']:>9.4f}  {r['reason']}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from shoprec.commands.search import search_command
    from shoprec.lake import Lake

    settings = load_settings(args.conf)
    lake = Lake(_spark(settings), settings.lake.root)
    rows = search_command(lake, settings, args.query, user=args.user, k=args.k)
    if not rows:
        print(f"no results for {args.query!r}")
        return 1
    first = rows[0]
    print(f"{args.query!r} -> {first.get('query_norm', '')!r} ({first.get('source', '')})")
    for r in rows:
        title = (r.get("title") or "")[:48]
        print(f"{r['rank']:>3}  {r['item_id']:<14} {r['score']:>9.4f}  {title:<48}  {r['reason']}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from shoprec.lake import Lake
    from shoprec.serving.publish import SEARCH_SERVING_TABLES, SERVING_TABLES, restore_previous

    settings = load_settings(args.conf)
    lake = Lake(_spark(settings), settings.lake.root)
    tables = SEARCH_SERVING_TABLES if args.search else SERVING_TABLES
    restored = restore_previous(
        lake,
        tables,
        run_id=f"restore-{uuid.uuid4().hex[:8]}",
        locks=settings.locks,
    )
    for table_name, run_id in restored.items():
        print(f"restored {table_name} to the publication of run {run_id}")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    """Remove users (shop ids) from every table, file and served list of the lake."""
    import datetime as dt
    from pathlib import Path

    from shoprec.stages.context import RunContext
    from shoprec.stages.forget import forget
    from shoprec.stages.runs import new_run_id

    ids = list(args.user or [])
    for file in args.users_file or []:
        path = Path(file)
        if not path.is_file():
            raise ShoprecError(f"--users-file {file}: no such file")
        ids += [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not ids:
        raise ShoprecError("forget: give --user ID (repeatable) or --users-file FILE")
    settings = load_settings(args.conf)
    day = dt.datetime.now(dt.UTC).date()
    ctx = RunContext.create(_spark(settings), settings, day, new_run_id(day))
    report = forget(ctx, ids)
    for table_name, rows in report.tables.items():
        print(f"forget: {table_name} {rows:,} rows removed")
    print(report.notes[-1] if report.notes else "forget: done")
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    from shoprec.bench.offline import main as benchmark_main

    return benchmark_main(args.rest)


# ------------------------------------------------------------------ parser
def _run_id(text: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}", text):
        raise argparse.ArgumentTypeError(
            f"--run-id: {text!r}: use letters, digits and _.:+- (at most 128)"
        )
    return text


def _models(text: str, stage: str) -> tuple[str, ...]:
    if stage != "train":
        raise ShoprecError(f"--models applies to the train stage only, not {stage!r}")
    names = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in names if m not in MODEL_NAMES]
    if unknown or not names:
        raise ShoprecError(
            f"--models: unknown model {unknown[0] if unknown else text!r} "
            f"(known: {', '.join(MODEL_NAMES)})"
        )
    return names


def _add_conf(p: argparse.ArgumentParser, required: bool) -> None:
    if required:
        p.add_argument("--conf", required=True, help="config file (YAML, see conf/)")
    else:
        p.add_argument(
            "--conf", default=_default_conf(), help=f"config file (default {DEFAULT_CONF})"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shoprec", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="log more; tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="synthetic shop + nightly pipeline over several days")
    _add_conf(p, required=False)
    p.add_argument("--days", type=int)
    p.add_argument("--users", type=int)
    p.add_argument("--items", type=int)
    p.add_argument("--lake", help="lake root (overrides lake.root)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("nightly", help="every stage for one date, in order")
    _add_conf(p, required=True)
    p.add_argument("--date", required=True)
    p.set_defaults(func=cmd_nightly)

    p = sub.add_parser("run", help="one stage for one date")
    p.add_argument("stage")
    _add_conf(p, required=True)
    p.add_argument("--date", required=True)
    p.add_argument(
        "--run-id",
        type=_run_id,
        help="share one run id across the stages of a night (the Airflow DAG run's)",
    )
    p.add_argument(
        "--models",
        help="train: only these comma-separated models (each must be in models.enabled "
        "to be trained; evaluate reads every model's outcome)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("gate", help="the champion gate's decision for a date, as JSON")
    _add_conf(p, required=True)
    p.add_argument("--date", required=True)
    p.set_defaults(func=cmd_gate)

    p = sub.add_parser("generate", help="synthetic shop data as source files")
    p.add_argument("--out", required=True)
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--items", type=int, default=500)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--start-date", default="2026-11-01")
    p.add_argument("--dirty-rate", type=float, default=0.0)
    p.add_argument("--overwrite", action="store_true", help="replace a shop already in --out")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("ingest", help="one source into bronze")
    p.add_argument(
        "--source", required=True, help="format: canonical, segment, rees46, completejourney"
    )
    p.add_argument(
        "--path", required=True, help="events input ('builtin' for packaged Complete Journey)"
    )
    p.add_argument("--catalog", help="catalog input, if the format has one")
    p.add_argument("--name", help="source name in bronze (default: the format)")
    _add_conf(p, required=False)
    p.add_argument("--date", required=True)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("recs", help="a user's published recommendations, with reasons")
    _add_conf(p, required=False)
    p.add_argument("--user", required=True, help="the shop's user id, or its p_ pseudonym")
    p.set_defaults(func=cmd_recs)

    p = sub.add_parser("similar", help="an item's published similar items")
    _add_conf(p, required=False)
    p.add_argument("--item", required=True)
    p.set_defaults(func=cmd_similar)

    p = sub.add_parser("search", help="search results for a query, as the shop would get them")
    _add_conf(p, required=False)
    p.add_argument("query")
    p.add_argument("--user", help="personalize for this user (shop id or p_ pseudonym)")
    p.add_argument("--k", type=int, default=10, help="results to show (default 10)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("restore", help="serve the previous publication again (all serving tables)")
    _add_conf(p, required=False)
    p.add_argument(
        "--search",
        action="store_true",
        help="restore the search tables (search_results, query_suggestions) instead",
    )
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser(
        "forget", help="remove users (shop ids) from every table, file and served list"
    )
    _add_conf(p, required=False)
    p.add_argument("--user", action="append", help="a shop user id (repeatable)")
    p.add_argument("--users-file", action="append", help="a file of shop user ids, one per line")
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser(
        "benchmark",
        help="offline comparison on a fixed public split (see shoprec benchmark -- --help)",
        add_help=False,
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_benchmark)

    p = sub.add_parser("status", help="what each stage did for a date")
    _add_conf(p, required=False)
    p.add_argument("--date", required=True)
    p.set_defaults(func=cmd_status)
    return parser


# What Python sees when Spark's JVM has died under it: the socket to it is gone.
_JVM_GONE = ("Py4JNetworkError", "ConnectionRefusedError", "ConnectionResetError")


def _spark_error_line(err: BaseException) -> str | None:
    """One line for Spark's own errors about input (a missing path, a bad file), and
    for a Spark JVM that died (its own output, above this line, says why)."""
    name = type(err).__name__
    if name in ("AnalysisException", "IllegalArgumentException", "PySparkException"):
        first = (str(err).strip().splitlines() or [name])[0]
        return f"spark: {first[:300]}"
    if name in _JVM_GONE or "Answer from Java side is empty" in str(err):
        return (
            "spark: the Spark driver JVM stopped answering (it crashed or was killed); "
            "its last output above says why, e.g. java.lang.OutOfMemoryError or "
            "java.lang.StackOverflowError"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shoprec`` console script."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "benchmark":  # its options belong to shoprec.bench.offline
        args.rest = [*extra, *args.rest]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("py4j", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ShoprecError as err:
        if args.verbose:
            traceback.print_exc()
        print(f"shoprec: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("shoprec: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.verbose:
            traceback.print_exc()
        line = _spark_error_line(err)
        if line is not None:
            print(f"shoprec: error: {line}", file=sys.stderr)
            return 2
        print(
            f"shoprec: internal error: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''} "
            "(rerun with --verbose for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
