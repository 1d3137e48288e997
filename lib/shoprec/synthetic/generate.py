"""Write a synthetic shop to disk, day by day: events, catalog snapshots and a manifest."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from shoprec.errors import ShoprecError
from shoprec.synthetic.arrays import IntArray
from shoprec.synthetic.bots import bot_event_counts, bot_sessions, make_bots
from shoprec.synthetic.catalog import DaySnapshot, build_catalog, catalog_lines, iter_snapshots
from shoprec.synthetic.dirty import (
    BOT_EVENTS,
    DIRTY_KIND_NAMES,
    MANIFEST_DIRTY_KINDS,
    DayBounds,
    DirtyInjector,
)
from shoprec.synthetic.events import (
    EVENT_KEYS,
    EVENT_TYPES,
    ChunkText,
    DayText,
    IdKind,
    encode_rows,
    make_ids,
    make_session_ids,
)
from shoprec.synthetic.rng import Stream, make_rng
from shoprec.synthetic.sessions import Chunk, World, build_chunk, day_epoch_ms
from shoprec.synthetic.spec import ShopSpec
from shoprec.synthetic.users import build_staples, build_users, leaf_cdf, pii_json, user_id

FORMAT_VERSION = 1
EVENTS_PATH = "events/date={date}/events.jsonl"
CATALOG_PATH = "catalog/date={date}/catalog.jsonl"
MANIFEST = "manifest.json"
TARGET_CHUNK_EVENTS = 50_000  # events generated and encoded at a time (bounds memory)
EVENTS_PER_SESSION = 7.0  # rough average, only used to size chunks


class OutputExistsError(ShoprecError, FileExistsError):
    """The output directory already holds generated data and overwriting was not asked for."""


@dataclass(frozen=True)
class GenerationReport:
    """What :func:`generate_shop` wrote."""

    out_dir: Path
    manifest_path: Path
    days: int
    events_written: int  # clean events
    dirty_written: int  # dirty lines, bot events included
    lines_written: int  # all event lines: events_written + dirty_written
    catalog_items: int  # catalog size on the last day
    events_by_type: dict[str, int]
    seconds: float


@dataclass
class DayStats:
    """Counts of one day, as they go into the manifest."""

    date: str
    catalog_items: int
    catalog_new_items: int
    catalog_unavailable: int
    lines: int = 0
    sessions: int = 0
    active_users: int = 0
    events_by_type: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_TYPES, 0))
    dirty: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MANIFEST_DIRTY_KINDS, 0))
    bot_events_by_type: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(EVENT_TYPES, 0)
    )

    @property
    def events(self) -> int:
        """Clean events of the day."""
        return sum(self.events_by_type.values())

    def count(self, target: dict[str, int], etype: IntArray) -> None:
        """Add event type counts of a batch to ``target``."""
        for code, n in enumerate(np.bincount(etype, minlength=len(EVENT_TYPES)).tolist()):
            target[EVENT_TYPES[code]] += n

    def to_json(self) -> dict[str, Any]:
        """The manifest entry of the day."""
        return {
            "date": self.date,
            "events_path": EVENTS_PATH.format(date=self.date),
            "catalog_path": CATALOG_PATH.format(date=self.date),
            "lines": self.lines,
            "events": self.events,
            "events_by_type": self.events_by_type,
            "sessions": self.sessions,
            "active_users": self.active_users,
            "dirty_lines": sum(self.dirty.values()),
            "dirty": self.dirty,
            "bot_events_by_type": self.bot_events_by_type,
            "catalog_items": self.catalog_items,
            "catalog_new_items": self.catalog_new_items,
            "catalog_unavailable": self.catalog_unavailable,
        }


@dataclass
class Counter:
    """A running counter, for ids that must be unique within a day."""

    value: int = 0

    def take(self, n: int) -> int:
        """Reserve ``n`` numbers; return the first."""
        first = self.value
        self.value += n
        return first


def generate_shop(spec: ShopSpec, out_dir: Path, *, overwrite: bool = False) -> GenerationReport:
    """Generate the shop described by ``spec`` under ``out_dir``.

    Writes ``events/date=D/events.jsonl`` and ``catalog/date=D/catalog.jsonl`` for
    each day, then ``manifest.json`` (written last: its presence means complete).
    Raises :class:`OutputExistsError` if ``out_dir`` already holds any of these,
    unless ``overwrite`` is set, which removes them first. Same spec, same bytes.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    _prepare(out, overwrite)
    world = build_world(spec)
    item_json = [f'"{i}"' for i in world.catalog.ids] + ["null"]
    days: list[DayStats] = []
    for snap in iter_snapshots(world.catalog, spec):
        date = spec.date(snap.day).isoformat()
        _write(out / CATALOG_PATH.format(date=date), catalog_lines(world.catalog, snap, spec))
        days.append(_write_day(world, snap, out / EVENTS_PATH.format(date=date), item_json))
    manifest = _manifest(spec, days, world.catalog.size)
    _write(out / MANIFEST, [json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"])
    return _report(out, days, time.perf_counter() - started)


def build_world(spec: ShopSpec) -> World:
    """The day-independent part of the shop: catalog, users and their staples."""
    catalog = build_catalog(spec)
    users = build_users(spec, catalog)
    staples = build_staples(spec, users, catalog)
    return World(spec, catalog, users, staples, leaf_cdf(catalog))


def chunk_ranges(spec: ShopSpec) -> Iterator[tuple[int, int]]:
    """User index ranges generated together (fixed by the spec, so output is reproducible)."""
    per_user = spec.sessions_per_user_per_day * EVENTS_PER_SESSION
    size = max(1, min(spec.users, math.ceil(TARGET_CHUNK_EVENTS / per_user)))
    for lo in range(0, spec.users, size):
        yield lo, min(lo + size, spec.users)


def _prepare(out: Path, overwrite: bool) -> None:
    """Refuse (or clear, if ``overwrite``) earlier output in ``out``."""
    ours = [out / "events", out / "catalog", out / MANIFEST]
    found = [p for p in ours if p.exists()]
    if found and not overwrite:
        raise OutputExistsError(
            f"{out} already holds generated data ({found[0].name}); "
            "pass overwrite=True to replace it"
        )
    for path in found:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)


@contextmanager
def _atomic(path: Path) -> Iterator[IO[str]]:
    """A text file that appears at ``path`` only once fully written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
        yield fh
    os.replace(tmp, path)


def _write(path: Path, lines: list[str]) -> None:
    """Write ``lines`` to ``path`` atomically."""
    with _atomic(path) as fh:
        fh.writelines(lines)


def _write_day(world: World, snap: DaySnapshot, path: Path, item_json: list[str]) -> DayStats:
    """Stream one day's events to ``path``: clean chunks, dirty lines, then bots."""
    spec = world.spec
    stats = DayStats(
        date=spec.date(snap.day).isoformat(),
        catalog_items=int(snap.present.sum()),
        catalog_new_items=snap.new_items,
        catalog_unavailable=int((snap.present & ~snap.available).sum()),
    )
    text = DayText(
        item_json=item_json,
        price_json=[repr(p) for p in snap.price.tolist()] + ["null"],
        currency_json=json.dumps(spec.currency),
    )
    bounds = DayBounds(day_epoch_ms(spec.date(snap.day)), world.catalog.size)
    injector = DirtyInjector(spec, snap.day, bounds) if spec.dirty_rate > 0 else None
    events, sessions = Counter(), Counter()
    with _atomic(path) as fh:
        for index, (lo, hi) in enumerate(chunk_ranges(spec)):
            rng = make_rng(spec.seed, Stream.SESSIONS, snap.day, index)
            chunk = build_chunk(world, snap, lo, hi, rng)
            lines = _encode_chunk(world, chunk, text, lo, hi, (events, sessions), snap.day, rng)
            stats.count(stats.events_by_type, chunk.rows.etype)
            stats.sessions += chunk.plan.size
            stats.active_users += int(np.unique(chunk.plan.user).size)
            if injector is not None:
                lines = injector.inject(lines, chunk.rows.etype, chunk.rows.ts_ms)
            fh.writelines(lines)
            stats.lines += len(lines)
        if injector is not None:
            extra = injector.finish()
            fh.writelines(extra)
            stats.lines += len(extra)
            stats.dirty.update(injector.counts)
            stats.lines += _write_bots(world, snap, text, bounds, stats, fh)
    return stats


def _encode_chunk(
    world: World,
    chunk: Chunk,
    text: DayText,
    lo: int,
    hi: int,
    counters: tuple[Counter, Counter],
    day: int,
    rng: np.random.Generator,
) -> list[str]:
    """JSON lines of a chunk's clean events."""
    events, sessions = counters
    rows = chunk.rows
    users = [""] * (hi - lo)
    pii = [""] * (hi - lo)
    for u in np.unique(rows.user).tolist():
        users[u] = f'"{user_id(lo + u)}"'
        pii[u] = pii_json(world.users, lo + u)
    item_json = text.item_json
    chunk_text = ChunkText(
        user_json=users,
        pii_json=pii,
        session_json=make_session_ids(
            rng, day, IdKind.CLEAN, sessions.take(chunk.plan.size), chunk.plan.size
        ),
        query_json=[json.dumps(q, ensure_ascii=False) for q in chunk.searches.query],
        results_json=[
            "[" + ",".join(item_json[i] for i in row if i >= 0) + "]"
            for row in chunk.searches.results.tolist()
        ],
    )
    ids = make_ids(rng, day, IdKind.CLEAN, events.take(rows.size), rows.size)
    return encode_rows(rows, ids, chunk_text, text)


def _write_bots(
    world: World,
    snap: DaySnapshot,
    text: DayText,
    bounds: DayBounds,
    stats: DayStats,
    fh: IO[str],
) -> int:
    """Append the day's bot events; returns the number of lines written."""
    spec = world.spec
    rng = make_rng(spec.seed, Stream.BOTS, snap.day)
    bots = make_bots(spec.users, spec.bot_users)
    events, sessions = Counter(), Counter()

    def mint_session() -> str:
        """A fresh bot session id."""
        return make_session_ids(rng, snap.day, IdKind.BOT, sessions.take(1), 1)[0]

    written = 0
    for bot, n in zip(
        bots, bot_event_counts(len(bots), spec.bot_events_per_day, rng).tolist(), strict=True
    ):
        for batch in bot_sessions(bot, n, world.catalog, snap, bounds.start_ms, mint_session, rng):
            ids = make_ids(rng, snap.day, IdKind.BOT, events.take(batch.rows.size), batch.rows.size)
            fh.writelines(encode_rows(batch.rows, ids, batch.text, text))
            stats.count(stats.bot_events_by_type, batch.rows.etype)
            written += batch.rows.size
    stats.dirty[BOT_EVENTS] += written
    return written


def _manifest(spec: ShopSpec, days: list[DayStats], catalog_size: int) -> dict[str, Any]:
    """The manifest: spec, layout, and per-day counts the pipeline can reconcile against."""
    totals_by_type = {t: sum(d.events_by_type[t] for d in days) for t in EVENT_TYPES}
    dirty_totals = {k: sum(d.dirty[k] for d in days) for k in MANIFEST_DIRTY_KINDS}
    bots = make_bots(spec.users, spec.bot_users) if spec.dirty_rate > 0 else ()
    return {
        "generator": "shoprec.synthetic",
        "format_version": FORMAT_VERSION,
        "spec": spec.to_json_dict(),
        "layout": {"events": EVENTS_PATH, "catalog": CATALOG_PATH},
        "event_keys": list(EVENT_KEYS),
        "event_types": list(EVENT_TYPES),
        "dirty_kinds": list(DIRTY_KIND_NAMES),
        "bot_user_ids": [b.user_id for b in bots],
        "catalog_items_total": catalog_size,
        "totals": {
            "lines": sum(d.lines for d in days),
            "events": sum(totals_by_type.values()),
            "events_by_type": totals_by_type,
            "dirty_lines": sum(dirty_totals.values()),
            "dirty": dirty_totals,
        },
        "days": [d.to_json() for d in days],
    }


def _report(out: Path, days: list[DayStats], seconds: float) -> GenerationReport:
    """The run's report from its per-day counts."""
    events = sum(d.events for d in days)
    lines = sum(d.lines for d in days)
    return GenerationReport(
        out_dir=out,
        manifest_path=out / MANIFEST,
        days=len(days),
        events_written=events,
        dirty_written=lines - events,
        lines_written=lines,
        catalog_items=days[-1].catalog_items,
        events_by_type={t: sum(d.events_by_type[t] for d in days) for t in EVENT_TYPES},
        seconds=seconds,
    )


def as_source(out_dir: str | Path, name: str = "synthetic") -> dict[str, str]:
    """The pipeline source (a ``sources:`` entry) that reads a shop written to ``out_dir``."""
    return {
        "name": name,
        "format": "canonical",
        "events": f"{out_dir}/events/date={{date}}",
        "catalog": f"{out_dir}/catalog/date={{date}}",
    }
