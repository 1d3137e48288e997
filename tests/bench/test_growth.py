"""The growth benchmark's tables and plot, and the ingest benchmark's memory meter."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from shoprec.bench.growth import plot, scoring_table
from shoprec.bench.ingest import JvmMeter
from shoprec.bench.ingest import table as ingest_table

INGEST = [
    {
        "records": n,
        "baseline_s": n / 1e5,
        "shoprec_s": n / 1e4,
        "ingest_s": n / 5e4,
        "validate_s": n / 1.25e4,
        "ratio": 10.0,
        "peak_old_gen_mb": 300,
        "peak_heap_mb": 900,
        "spilled_mb": 0.0,
    }
    for n in (1_000_000, 3_000_000)
]
SCORING = [
    {"items": n, "users": 1000, "baseline_s": n / 1e5, "shoprec_s": n / 2e4, "ratio": 0.2}
    for n in (20_000, 50_000)
]


def test_tables_have_a_row_per_size() -> None:
    rows = ingest_table(INGEST).splitlines()
    assert len(rows) == 4 and rows[2].startswith("| 1,000,000 |") and "10.00x" in rows[3]
    rows = scoring_table(SCORING).splitlines()
    assert len(rows) == 4 and rows[3].startswith("| 50,000 | 1,000 |")


def test_plot_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "growth.png"
    plot(INGEST, SCORING, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot(INGEST, [], tmp_path / "ingest-only.png")  # one side may be skipped
    assert (tmp_path / "ingest-only.png").exists()


def test_meter_reads_heap_and_spill(spark: SparkSession) -> None:
    meter = JvmMeter(spark)
    meter.start()
    spark.range(20_000).groupBy((F.col("id") % 7).alias("k")).count().collect()
    got = meter.stop()
    assert got["peak_heap_mb"] >= got["peak_old_gen_mb"] >= 0 and got["peak_heap_mb"] > 0
    assert got["spilled_mb"] == 0.0  # a tiny aggregation fits in memory
