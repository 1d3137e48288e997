"""Canonical events as columnar rows, and their fast encoding to JSON lines."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from shoprec.synthetic.arrays import BoolArray, IntArray

DAY_MS = 86_400_000
EPOCH = datetime.date(1970, 1, 1)


class EventType(IntEnum):
    """Event type codes; :data:`EVENT_TYPES` holds their names."""

    VIEW = 0
    ADD_TO_CART = 1
    REMOVE_FROM_CART = 2
    PURCHASE = 3
    SEARCH = 4
    SEARCH_CLICK = 5


EVENT_TYPES: tuple[str, ...] = (
    "view",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "search",
    "search_click",
)
# Which event types carry a unit price / a quantity / an item id (indexed by code).
HAS_PRICE: BoolArray = np.array([True, True, True, True, False, False])
HAS_QUANTITY: BoolArray = np.array([False, True, True, True, False, False])
HAS_ITEM: BoolArray = np.array([True, True, True, True, False, True])

EVENT_KEYS: tuple[str, ...] = (
    "event_id",
    "event_type",
    "user_id",
    "session_id",
    "item_id",
    "quantity",
    "price",
    "currency",
    "query",
    "results",
    "search_id",
    "position",
    "timestamp",
    "email",
    "ip",
    "user_agent",
)


class IdKind(IntEnum):
    """Who minted an event id; part of the id so the three sources never collide."""

    CLEAN = 0
    BOT = 1
    DIRTY = 2


@dataclass(frozen=True)
class EventRows:
    """Events of one chunk, one array entry per event, in file order."""

    etype: IntArray
    user: IntArray  # index into ChunkText.user_json / pii_json
    session: IntArray  # index into ChunkText.session_json
    item: IntArray  # item index, -1 when none
    quantity: IntArray  # 0 when none
    search: IntArray  # index into ChunkText.query_json / results_json, -1 when none
    position: IntArray  # 1-based clicked rank, 0 when none
    ts_ms: IntArray  # UTC epoch milliseconds
    tz_offset: IntArray  # the user's UTC offset in minutes

    @property
    def size(self) -> int:
        """Number of events."""
        return int(self.etype.size)

    def take(self, order: IntArray) -> EventRows:
        """The rows in ``order``."""
        return EventRows(*(getattr(self, f)[order] for f in self.__dataclass_fields__))


@dataclass(frozen=True)
class ChunkText:
    """Pre-encoded JSON fragments that a chunk's rows index into."""

    user_json: list[str]  # '"u000123"'
    pii_json: list[str]  # '"email":...,"ip":...,"user_agent":...'
    session_json: list[str]  # '"<hex>"'
    query_json: list[str]  # per search
    results_json: list[str]  # per search: '["i00001","i00042",...]'


@dataclass(frozen=True)
class DayText:
    """Per-day JSON fragments shared by all chunks: item ids, prices, currency."""

    item_json: list[str]  # per item, then "null" last so index -1 reads null
    price_json: list[str]  # per item (today's price), then "null"
    currency_json: str


def make_ids(rng: np.random.Generator, day: int, kind: IdKind, first: int, n: int) -> list[str]:
    """``n`` event ids: 64 random bits, then day, minting source and a counter (unique)."""
    rand = rng.integers(0, 2**64, size=n, dtype=np.uint64).tolist()
    seq = ((day << 40) | (int(kind) << 36)) + first
    return [f"{r:016x}{seq + k:016x}" for k, r in enumerate(rand)]


def make_session_ids(
    rng: np.random.Generator, day: int, kind: IdKind, first: int, n: int
) -> list[str]:
    """``n`` session ids as JSON strings, unique within a run."""
    rand = rng.integers(0, 2**32, size=n, dtype=np.uint64).tolist()
    return [f'"{r:08x}-{day:04x}-{int(kind):x}{first + k:07x}"' for k, r in enumerate(rand)]


def offset_text(minutes: int) -> str:
    """An ISO-8601 UTC offset, e.g. +05:30."""
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


_CLOCK: list[str] = [
    f"{h:02d}:{m:02d}:{s:02d}." for h in range(24) for m in range(60) for s in range(60)
]
_MILLIS: list[str] = [f"{ms:03d}" for ms in range(1000)]


def format_timestamps(ts_ms: IntArray, tz_offset: IntArray) -> list[str]:
    """ISO-8601 local times with offset and milliseconds, as datetime.isoformat() writes them."""
    local = ts_ms + tz_offset * 60_000
    day, rem = np.divmod(local, DAY_MS)
    second, milli = np.divmod(rem, 1000)
    if day.size == 0:
        return []
    first = int(day.min())
    span = range(first, int(day.max()) + 1)
    dates = [(EPOCH + datetime.timedelta(days=d)).isoformat() + "T" for d in span]
    offsets = {m: offset_text(m) for m in np.unique(tz_offset).tolist()}
    clock, millis = _CLOCK, _MILLIS
    return [
        f"{dates[d]}{clock[s]}{millis[ms]}{offsets[o]}"
        for d, s, ms, o in zip(
            (day - first).tolist(), second.tolist(), milli.tolist(), tz_offset.tolist(), strict=True
        )
    ]


def encode_rows(rows: EventRows, ids: list[str], chunk: ChunkText, day: DayText) -> list[str]:
    """One canonical JSON line per row; every line has all :data:`EVENT_KEYS` in order."""
    etype = rows.etype
    type_json = [json.dumps(t) for t in EVENT_TYPES]
    search_row = _search_rows(rows)
    sid = ["null" if r < 0 else f'"{ids[r]}"' for r in search_row.tolist()]
    price_idx = np.where(HAS_PRICE[etype], rows.item, -1).tolist()
    currency = [day.currency_json if p >= 0 else "null" for p in price_idx]
    results = np.where(etype == EventType.SEARCH, rows.search, -1).tolist()
    stamps = format_timestamps(rows.ts_ms, rows.tz_offset)
    fields = zip(
        ids,
        etype.tolist(),
        rows.user.tolist(),
        rows.session.tolist(),
        rows.item.tolist(),
        rows.quantity.tolist(),
        price_idx,
        currency,
        rows.search.tolist(),
        results,
        sid,
        rows.position.tolist(),
        stamps,
        strict=True,
    )
    q_json, r_json = [*chunk.query_json, "null"], [*chunk.results_json, "null"]
    items, prices, users, pii = day.item_json, day.price_json, chunk.user_json, chunk.pii_json
    sessions = chunk.session_json
    return [
        f'{{"event_id":"{e}","event_type":{type_json[t]},"user_id":{users[u]},'
        f'"session_id":{sessions[s]},"item_id":{items[i]},"quantity":{q or "null"},'
        f'"price":{prices[p]},"currency":{c},"query":{q_json[qs]},"results":{r_json[rs]},'
        f'"search_id":{si},"position":{po or "null"},"timestamp":"{ts}",{pii[u]}}}\n'
        for e, t, u, s, i, q, p, c, qs, rs, si, po, ts in fields
    ]


def _search_rows(rows: EventRows) -> IntArray:
    """For each search click, the row of the search it came from; -1 for other rows."""
    is_search = rows.etype == EventType.SEARCH
    row_of = np.full(max(int(rows.search.max(initial=-1)) + 1, 1), -1, dtype=np.int64)
    row_of[rows.search[is_search]] = np.flatnonzero(is_search)
    clicks = rows.etype == EventType.SEARCH_CLICK
    return np.where(clicks, row_of[np.maximum(rows.search, 0)], -1)
