"""Dirty records: extra lines, each invalid in one known way, mixed into a day's clean events.

Every dirty record is an *additional* line (the clean events are never altered), so
a day file holds exactly ``events + sum(dirty counts)`` lines, and the clean events
are the same whatever the ``dirty_rate``. Except for the two duplicate kinds, a
dirty record carries a fresh event id. Bot traffic is counted as ``bot_events``
but made in :mod:`shoprec.synthetic.bots`.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shoprec.synthetic.arrays import BoolArray, IntArray
from shoprec.synthetic.events import DAY_MS, HAS_ITEM, HAS_PRICE, HAS_QUANTITY, IdKind, make_ids
from shoprec.synthetic.rng import Stream, make_rng
from shoprec.synthetic.spec import ShopSpec
from shoprec.synthetic.vocab import UNKNOWN_EVENT_TYPES, WRONG_PRICES, WRONG_QUANTITIES

BOT_EVENTS = "bot_events"
Record = dict[str, Any]


@dataclass(frozen=True)
class DayBounds:
    """The UTC day a file covers, in epoch milliseconds, and the catalog size."""

    start_ms: int
    n_items: int

    @property
    def end_ms(self) -> int:
        """First millisecond after the day."""
        return self.start_ms + DAY_MS


Mutator = Callable[[Record, np.random.Generator, DayBounds], None]


def _set(key: str) -> Mutator:
    """A mutator that nulls ``key``."""

    def mutate(record: Record, rng: np.random.Generator, bounds: DayBounds) -> None:
        """Set the field to null."""
        record[key] = None

    return mutate


def _same(record: Record, rng: np.random.Generator, bounds: DayBounds) -> None:
    """Leave the copy as it is (an exact duplicate)."""


def _later(record: Record, rng: np.random.Generator, bounds: DayBounds) -> None:
    """Same event id, re-sent up to two minutes later (still inside the day)."""
    ts = datetime.datetime.fromisoformat(record["timestamp"])
    room = bounds.end_ms - 1 - round(ts.timestamp() * 1000)
    delay = int(rng.integers(1, max(2, min(120_000, room))))
    record["timestamp"] = (ts + datetime.timedelta(milliseconds=delay)).isoformat(
        "T", "milliseconds"
    )


def _malformed(record: Record, rng: np.random.Generator, bounds: DayBounds) -> None:
    """A timestamp no ISO-8601 parser accepts."""
    ts: str = record["timestamp"]
    parsed = datetime.datetime.fromisoformat(ts)
    options = (
        ts[:11] + "25" + ts[13:],  # hour 25
        ts[:5] + "13" + ts[7:],  # month 13
        "not-a-timestamp",
        parsed.strftime("%d/%m/%Y %H:%M"),
        "",
    )
    record["timestamp"] = options[int(rng.integers(len(options)))]


def _future(record: Record, rng: np.random.Generator, bounds: DayBounds) -> None:
    """A valid timestamp 1 to 30 days after the file's date."""
    ts = datetime.datetime.fromisoformat(record["timestamp"])
    shift = datetime.timedelta(days=int(rng.integers(1, 31)), minutes=int(rng.integers(0, 600)))
    record["timestamp"] = (ts + shift).isoformat("T", "milliseconds")


def _negative_price(record: Record, rng: np.random.Generator, bounds: DayBounds) -> None:
    """The price with its sign flipped."""
    record["price"] = -abs(float(record["price"]))


def _bad_quantity(record: Record, rng: np.random.Generator, bounds: DayBounds) -> None:
    """A quantity of 0, -1 or -2."""
    record["quantity"] = -int(rng.integers(0, 3))


def _unknown_item(record: Record, rng: np.random.Generator, bounds: DayBounds) -> None:
    """A well-formed item id that no catalog snapshot of the run contains."""
    record["item_id"] = f"i{bounds.n_items + int(rng.integers(1000, 90_000)):05d}"


def _choice(key: str, values: tuple[str, ...]) -> Mutator:
    """A mutator that sets ``key`` to one of ``values``."""

    def mutate(record: Record, rng: np.random.Generator, bounds: DayBounds) -> None:
        """Replace the field with a wrong value."""
        record[key] = values[int(rng.integers(len(values)))]

    return mutate


ANY: BoolArray = np.ones(6, dtype=np.bool_)


@dataclass(frozen=True)
class DirtyKind:
    """One way a record can be dirty."""

    name: str
    mutate: Mutator
    base_types: BoolArray  # event type codes whose clean events this kind can copy
    fresh_id: bool = True
    after_base: bool = False  # the dirty line must come after its original
    truncate: bool = False


DIRTY_KINDS: tuple[DirtyKind, ...] = (
    DirtyKind("null_event_id", _set("event_id"), ANY, fresh_id=False),
    DirtyKind("null_user_id", _set("user_id"), ANY),
    DirtyKind("null_event_type", _set("event_type"), ANY),
    DirtyKind("null_timestamp", _set("timestamp"), ANY),
    DirtyKind("duplicate_line", _same, ANY, fresh_id=False, after_base=True),
    DirtyKind("duplicate_event_id", _later, ANY, fresh_id=False, after_base=True),
    DirtyKind("malformed_timestamp", _malformed, ANY),
    DirtyKind("future_timestamp", _future, ANY),
    DirtyKind("negative_price", _negative_price, HAS_PRICE),
    DirtyKind("bad_quantity", _bad_quantity, HAS_QUANTITY),
    DirtyKind("unknown_item", _unknown_item, HAS_ITEM),
    DirtyKind("wrong_type_price", _choice("price", WRONG_PRICES), HAS_PRICE),
    DirtyKind("wrong_type_quantity", _choice("quantity", WRONG_QUANTITIES), HAS_QUANTITY),
    DirtyKind("unknown_event_type", _choice("event_type", UNKNOWN_EVENT_TYPES), ANY),
    DirtyKind("broken_json", _same, ANY, truncate=True),
)
DIRTY_KIND_NAMES: tuple[str, ...] = tuple(k.name for k in DIRTY_KINDS)
MANIFEST_DIRTY_KINDS: tuple[str, ...] = (*DIRTY_KIND_NAMES, BOT_EVENTS)


def dump(record: Record) -> str:
    """A record as one compact JSON line."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


class DirtyInjector:
    """Mixes dirty lines into one day's stream of clean lines, chunk by chunk.

    Each kind is owed ``dirty_rate / len(DIRTY_KINDS)`` records per clean event; the
    fraction carries over between chunks, and :meth:`finish` adds one record of any
    kind still missing that day (so a small day still shows every kind).
    """

    def __init__(self, spec: ShopSpec, day: int, bounds: DayBounds) -> None:
        """An injector for day index ``day``."""
        self._rng = make_rng(spec.seed, Stream.DIRTY, day)
        self._day = day
        self._bounds = bounds
        self._rate = spec.dirty_rate / len(DIRTY_KINDS)
        self._owed = dict.fromkeys(DIRTY_KIND_NAMES, 0.0)
        self._spare: dict[str, str] = {}  # kind -> a clean line it could still copy
        self._minted = 0
        self.counts: dict[str, int] = dict.fromkeys(DIRTY_KIND_NAMES, 0)

    def inject(self, lines: list[str], etype: IntArray, ts_ms: IntArray) -> list[str]:
        """``lines`` with this chunk's share of dirty lines inserted at random places."""
        inserts: list[tuple[int, str]] = []
        roomy = ts_ms < self._bounds.end_ms - 1000
        for kind in DIRTY_KINDS:
            self._owed[kind.name] += self._rate * len(lines)
            pool = np.flatnonzero(kind.base_types[etype] & (roomy | (not kind.after_base)))
            if pool.size == 0:
                continue
            self._spare[kind.name] = lines[int(pool[-1])]
            due = int(self._owed[kind.name])
            for base in self._rng.choice(pool, size=due).tolist():
                low = base + 1 if kind.after_base else 0
                where = int(self._rng.integers(low, len(lines) + 1))
                inserts.append((where, self._make(kind, lines[base])))
            self._owed[kind.name] -= due
            self.counts[kind.name] += due
        return _merge(lines, inserts)

    def finish(self) -> list[str]:
        """One record of each kind that is still missing today (appended at the end)."""
        extra = []
        for kind in DIRTY_KINDS:
            if self._rate > 0 and self.counts[kind.name] == 0 and kind.name in self._spare:
                extra.append(self._make(kind, self._spare[kind.name]))
                self.counts[kind.name] += 1
        return extra

    def _make(self, kind: DirtyKind, line: str) -> str:
        """A dirty copy of a clean line."""
        record: Record = json.loads(line)
        if kind.fresh_id:
            record["event_id"] = make_ids(self._rng, self._day, IdKind.DIRTY, self._minted, 1)[0]
            self._minted += 1
        kind.mutate(record, self._rng, self._bounds)
        text = dump(record)
        if kind.truncate:
            return text[: int(self._rng.integers(1, len(text) - 2))] + "\n"
        return text


def _merge(lines: list[str], inserts: list[tuple[int, str]]) -> list[str]:
    """``lines`` with each (position, line) inserted before the line at that position."""
    if not inserts:
        return lines
    out: list[str] = []
    prev = 0
    for where, line in sorted(inserts, key=lambda x: x[0]):
        out.extend(lines[prev:where])
        out.append(line)
        prev = where
    out.extend(lines[prev:])
    return out
