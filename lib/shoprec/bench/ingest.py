"""Ingest + validate + write throughput against a bare read-text/write-Parquet pass.

    python -m shoprec.bench.ingest --events 1000000 10000000   (or: make bench)

For each size a synthetic shop with that many events in one day (2% dirty) is
generated (not timed), then, in the same Spark session:

* baseline: read the day's JSON lines as text and write them as Parquet, nothing else;
* shoprec: the ingest and validate stages (bronze, cleaning, Great Expectations,
  silver and quarantine Delta writes).

The ratio shoprec / baseline says what the validated, accounted-for path costs
over the least any Spark job must do with the same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import tempfile
import time
from pathlib import Path

from shoprec.config import Settings
from shoprec.spark import build_spark
from shoprec.stages.nightly import run_stage
from shoprec.synthetic import as_source, generate_shop, spec_for_events

DAY = dt.date(2026, 11, 1)


def _settings(root: Path, shop: Path) -> Settings:
    return Settings().with_overrides(
        {
            "lake": {"root": str(root / "lake")},
            "privacy": {"key": "benchmark-key-not-a-secret"},
            "sources": [as_source(shop, name="bench")],
        }
    )


def bench_size(events: int, workdir: Path) -> dict[str, float]:
    """Time the baseline and the pipeline on one generated day of ``events`` events."""
    shop = workdir / f"shop-{events}"
    spec = spec_for_events(events, days=1, dirty_rate=0.02)
    report = generate_shop(spec, shop, overwrite=True)
    settings = _settings(workdir / f"run-{events}", shop)
    spark = build_spark(settings.spark)
    day_dir = f"{shop}/events/date={DAY}"

    started = time.perf_counter()
    spark.read.text(day_dir).write.mode("overwrite").parquet(str(workdir / f"bare-{events}"))
    bare = time.perf_counter() - started

    started = time.perf_counter()
    run_stage(spark, settings, "ingest", DAY)
    ingest = time.perf_counter() - started
    started = time.perf_counter()
    run_stage(spark, settings, "validate", DAY)
    validate = time.perf_counter() - started

    lines = report.lines_written
    total = ingest + validate
    return {
        "records": lines,
        "baseline_s": round(bare, 1),
        "ingest_s": round(ingest, 1),
        "validate_s": round(validate, 1),
        "shoprec_s": round(total, 1),
        "baseline_records_per_s": round(lines / bare),
        "shoprec_records_per_s": round(lines / total),
        "ratio": round(total / bare, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--workdir", help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="shoprec-bench-"))
    results = {}
    try:
        for n in args.events:
            results[str(n)] = r = bench_size(n, workdir)
            print(
                f"{r['records']:>11,} records  baseline {r['baseline_s']:>7.1f}s "
                f"({r['baseline_records_per_s']:>9,}/s)  shoprec {r['shoprec_s']:>7.1f}s "
                f"({r['shoprec_records_per_s']:>9,}/s; ingest {r['ingest_s']}s, validate "
                f"{r['validate_s']}s)  ratio {r['ratio']:.2f}x",
                flush=True,
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
