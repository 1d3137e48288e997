"""Growth: ingest + validate time against events, scoring time against items, with a plot.

    python -m shoprec.bench.growth --events 1000000 3000000 10000000 \\
        --items 20000 50000 100000 --out bench-growth   (or: make bench-growth)

Runs :mod:`shoprec.bench.ingest` at each event count and :mod:`shoprec.bench.scoring`
at each catalog size (the same users, rank and k at every size), each beside its own
baseline measured in the same run (after an untimed warm-up run of 20,000 events, so
that the first size does not pay for compiling the JVM's code paths), and writes ``growth.json``, ``growth.md`` (the
tables README shows) and ``growth.png`` (time against size on log-log axes: a line
parallel to the baseline's grows as the data does; a steeper one grows faster).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from shoprec.bench import ingest, scoring
from shoprec.config import Settings
from shoprec.spark import build_spark

WARMUP_EVENTS = 20_000


def scoring_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| items | users | bare matrix product | shoprec top-k scoring | ratio (users/s) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['items']:,} | {r['users']:,} | {r['baseline_s']:.2f} s "
            f"| {r['shoprec_s']:.2f} s | {r['ratio']:.3f}x |"
        )
    return "\n".join(lines)


def plot(ingest_rows: list[dict[str, Any]], scoring_rows: list[dict[str, Any]], out: Path) -> None:
    """Two log-log panels: seconds against input size, shoprec beside its baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    panels = [
        (
            axes[0],
            ingest_rows,
            "records",
            "events in the day",
            "ingest + validate",
            "bare read + write",
        ),
        (axes[1], scoring_rows, "items", "items in the catalog", "top-k scoring", "bare U Yᵀ"),
    ]
    for ax, rows, key, xlabel, ours, bare in panels:
        if not rows:
            ax.set_visible(False)
            continue
        x = [r[key] for r in rows]
        ax.loglog(x, [r["shoprec_s"] for r in rows], "o-", label=f"shoprec {ours}")
        ax.loglog(x, [r["baseline_s"] for r in rows], "s--", label=bare)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("seconds")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="*", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--items", type=int, nargs="*", default=[20_000, 50_000, 100_000])
    parser.add_argument("--users", type=int, default=100_000, help="scoring: users at every size")
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--out", default="bench-growth", help="folder for json, md and png")
    parser.add_argument("--workdir", help="scratch folder for the ingest runs (default: temporary)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="shoprec-growth-"))
    ingest_rows: list[dict[str, Any]] = []
    scoring_rows: list[dict[str, Any]] = []
    try:
        if args.events:  # untimed: Spark, Delta and GX code paths warm before the first size
            ingest.bench_size(WARMUP_EVENTS, workdir)
            ingest.remove_size(workdir, WARMUP_EVENTS)
        for n in args.events:
            ingest_rows.append(ingest.bench_size(n, workdir))
            print(ingest.table(ingest_rows[-1:]).splitlines()[-1], flush=True)
            ingest.remove_size(workdir, n)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.items:
        spark = build_spark(Settings().spark)
        for n_items in args.items:
            data = scoring.make_data(args.users, n_items, args.rank, history=5, seed=0)
            scoring_rows.append(scoring.run_benchmark(spark, data, k=args.k))
            print(scoring_table(scoring_rows[-1:]).splitlines()[-1], flush=True)
    result = {"ingest": ingest_rows, "scoring": scoring_rows}
    (out / "growth.json").write_text(json.dumps(result, indent=2))
    tables = [ingest.table(ingest_rows)] if ingest_rows else []
    tables += [scoring_table(scoring_rows)] if scoring_rows else []
    (out / "growth.md").write_text("\n\n".join(tables) + "\n")
    plot(ingest_rows, scoring_rows, out / "growth.png")
    print(f"wrote {out}/growth.json, growth.md, growth.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
