"""Measure generation speed and peak memory (no script needed: call :func:`benchmark`)."""

from __future__ import annotations

import math
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from shoprec.synthetic.generate import generate_shop
from shoprec.synthetic.spec import ShopSpec

EVENTS_PER_USER_SESSION = 6.2  # measured average of clean events per session (defaults)


@dataclass(frozen=True)
class BenchmarkResult:
    """Outcome of one timed generation."""

    events: int  # clean events
    lines: int  # all lines written
    bytes_written: int
    seconds: float
    peak_rss_mb: float  # the whole process's peak so far (ru_maxrss)

    @property
    def events_per_second(self) -> float:
        """Clean events generated per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """A one-line human summary."""
        return (
            f"{self.events:,} events ({self.lines:,} lines, {self.bytes_written / 1e6:,.0f} MB) "
            f"in {self.seconds:.1f} s = {self.events_per_second:,.0f} events/s, "
            f"peak RSS {self.peak_rss_mb:,.0f} MB"
        )


def spec_for_events(
    events: int,
    days: int = 7,
    seed: int = 42,
    sessions_per_user_per_day: float = 0.6,
    dirty_rate: float = 0.0,
) -> ShopSpec:
    """A spec expected to produce about ``events`` clean events over ``days`` days."""
    per_user = days * sessions_per_user_per_day * EVENTS_PER_USER_SESSION
    users = max(1, math.ceil(events / per_user))
    return ShopSpec(
        users=users,
        items=max(500, min(50_000, users // 10)),
        days=days,
        seed=seed,
        sessions_per_user_per_day=sessions_per_user_per_day,
        dirty_rate=dirty_rate,
    )


def benchmark(spec: ShopSpec, out_dir: Path | None = None) -> BenchmarkResult:
    """Generate ``spec`` (into a temporary directory unless ``out_dir``) and time it."""
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="shoprec-bench-") as tmp:
            return benchmark(spec, Path(tmp))
    started = time.perf_counter()
    report = generate_shop(spec, out_dir, overwrite=True)
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in Path(out_dir).rglob("*") if p.is_file())
    return BenchmarkResult(report.events_written, report.lines_written, size, seconds, _peak_mb())


def _peak_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
