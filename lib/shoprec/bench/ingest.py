"""Ingest + validate + write throughput against a bare read-text/write-Parquet pass.

    python -m shoprec.bench.ingest --events 1000000 10000000   (or: make bench)

For each size a synthetic shop with that many events in one day (2% dirty) is
generated (not timed), then, in the same Spark session:

* baseline: read the day's JSON lines as text and write them as Parquet, nothing else
  (timed on its second run: the first warms the page cache and the JVM);
* shoprec: the ingest and validate stages (bronze, cleaning, Great Expectations,
  silver and quarantine Delta writes).

The ratio shoprec / baseline says what the validated, accounted-for path costs
over the least any Spark job must do with the same bytes. Beside it: the driver JVM's
peak old generation while shoprec ran (what survived young collections: the data the
driver keeps, not the garbage a full young generation holds before it is collected),
the peak of the whole heap (each pool's peak, summed: an upper bound that a busy JVM
fills to its limit), and the bytes Spark spilled to disk in shoprec's stages (0 when
every sort and aggregation fit in memory).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

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
            # Spill is summed over the status store's stages: keep all of them.
            "spark": {"conf": {"spark.ui.retainedStages": "100000"}},
        }
    )


class JvmMeter:
    """Peak driver heap and disk spill of the Spark jobs run between start and stop.

    Read from the JVM itself (its memory pools) and from Spark's status store, which
    keeps every stage's spill figures even with the UI off.
    """

    def __init__(self, spark: SparkSession) -> None:
        self._sc = spark.sparkContext
        self._jvm: Any = self._sc._jvm
        self._gateway: Any = self._sc._gateway
        self._spilled_before = 0

    def _heap_pools(self) -> list[Any]:
        pools = self._jvm.java.lang.management.ManagementFactory.getMemoryPoolMXBeans()
        return [p for p in pools if p.getType().name() == "HEAP"]

    def _spilled(self) -> int:
        empty = self._jvm.java.util.ArrayList()
        quantiles = self._gateway.new_array(self._jvm.double, 0)
        stages = self._sc._jsc.sc().statusStore().stageList(empty, False, False, quantiles, empty)
        total, it = 0, stages.iterator()
        while it.hasNext():
            total += int(it.next().diskBytesSpilled())
        return total

    def start(self) -> None:
        self._jvm.java.lang.System.gc()
        for pool in self._heap_pools():
            pool.resetPeakUsage()
        self._spilled_before = self._spilled()

    def stop(self) -> dict[str, float]:
        pools = self._heap_pools()
        old = [p for p in pools if any(w in p.getName() for w in ("Old", "Tenured"))]
        return {
            # What survived young collections: the long-lived data the driver holds.
            "peak_old_gen_mb": round(sum(int(p.getPeakUsage().getUsed()) for p in old) / 2**20),
            "peak_heap_mb": round(sum(int(p.getPeakUsage().getUsed()) for p in pools) / 2**20),
            "spilled_mb": round((self._spilled() - self._spilled_before) / 2**20, 1),
        }


def bench_size(events: int, workdir: Path) -> dict[str, float]:
    """Time the baseline and the pipeline on one generated day of ``events`` events."""
    shop = workdir / f"shop-{events}"
    spec = spec_for_events(events, days=1, dirty_rate=0.02)
    report = generate_shop(spec, shop, overwrite=True)
    settings = _settings(workdir / f"run-{events}", shop)
    spark = build_spark(settings.spark)
    day_dir = f"{shop}/events/date={DAY}"

    def bare_pass() -> float:
        started = time.perf_counter()
        spark.read.text(day_dir).write.mode("overwrite").parquet(str(workdir / f"bare-{events}"))
        return time.perf_counter() - started

    bare_pass()  # untimed: the files into the page cache, the JVM's code compiled
    bare = bare_pass()

    meter = JvmMeter(spark)
    meter.start()
    started = time.perf_counter()
    run_stage(spark, settings, "ingest", DAY)
    ingest = time.perf_counter() - started
    started = time.perf_counter()
    run_stage(spark, settings, "validate", DAY)
    validate = time.perf_counter() - started
    memory = meter.stop()

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
        **memory,
    }


def remove_size(workdir: Path, events: int) -> None:
    """Delete what :func:`bench_size` wrote for ``events`` under ``workdir``."""
    for name in ("shop", "run", "bare"):
        shutil.rmtree(workdir / f"{name}-{events}", ignore_errors=True)


def table(rows: list[dict[str, Any]]) -> str:
    """:func:`bench_size` results as a markdown table, a row per size."""
    lines = [
        "| events | bare read + write Parquet | shoprec ingest + validate | ratio "
        "| driver old gen (heap) peak | spilled |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['records']:,} | {r['baseline_s']:.1f} s | {r['shoprec_s']:.1f} s "
            f"(ingest {r['ingest_s']:.1f} s, validate {r['validate_s']:.1f} s) "
            f"| {r['ratio']:.2f}x | {r['peak_old_gen_mb']:,} MB ({r['peak_heap_mb']:,} MB) "
            f"| {r['spilled_mb']} MB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--workdir", help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="shoprec-bench-"))
    results = {}
    print(table([]), flush=True)  # the header; a row follows each size
    try:
        for n in args.events:
            results[str(n)] = r = bench_size(n, workdir)
            print(table([r]).splitlines()[-1], flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
