"""Bot traffic: a few crawler or scraper users with thousands of events a day."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from shoprec.synthetic.arrays import IntArray, as_int
from shoprec.synthetic.catalog import Catalog, DaySnapshot
from shoprec.synthetic.events import DAY_MS, ChunkText, EventRows, EventType
from shoprec.synthetic.users import ip_text, user_id
from shoprec.synthetic.vocab import BOT_USER_AGENTS, LEAVES, USER_AGENTS

BOT_SESSION_EVENTS = 1000  # a bot's day is cut into sessions of at most this many events
BOT_TYPE_P = np.array([0.85, 0.05, 0.0, 0.0, 0.10, 0.0])  # by EventType code
BOT_RESULTS = 20


@dataclass(frozen=True)
class Bot:
    """One bot user."""

    index: int  # user index (after all real users)
    user_agent: str
    ip: int

    @property
    def user_id(self) -> str:
        """The bot's public user id."""
        return user_id(self.index)


def make_bots(n_users: int, n_bots: int) -> tuple[Bot, ...]:
    """Bots with ids after the real users; even ones say they are crawlers, odd ones do not."""
    return tuple(
        Bot(
            index=n_users + k,
            user_agent=BOT_USER_AGENTS[k // 2 % 2] if k % 2 == 0 else USER_AGENTS[k % 3],
            ip=0x22000000 + 977 * k,  # a data-centre range
        )
        for k in range(n_bots)
    )


@dataclass(frozen=True)
class BotBatch:
    """One bot session's events, ready to encode."""

    rows: EventRows
    text: ChunkText


def bot_sessions(
    bot: Bot,
    n_events: int,
    catalog: Catalog,
    snap: DaySnapshot,
    day_start_ms: int,
    mint_session: Callable[[], str],
    rng: np.random.Generator,
) -> Iterator[BotBatch]:
    """A bot's events of one day, session by session (bounded memory)."""
    present = np.flatnonzero(snap.present)
    cursor = int(rng.integers(present.size))
    for first in range(0, n_events, BOT_SESSION_EVENTS):
        n = min(BOT_SESSION_EVENTS, n_events - first)
        etype = as_int(rng.choice(len(BOT_TYPE_P), size=n, p=BOT_TYPE_P))
        crawl = present[(cursor + np.arange(n)) % present.size]  # walks the catalog in id order
        cursor += n
        gaps = rng.integers(200, 2500, size=n)
        gaps[0] = 0
        offsets = np.cumsum(gaps)
        start = int(rng.integers(0, DAY_MS - int(offsets[-1])))
        is_search = etype == EventType.SEARCH
        search = np.where(is_search, np.cumsum(is_search) - 1, -1)
        leaves = catalog.active_leaves[
            rng.integers(0, catalog.active_leaves.size, int(is_search.sum()))
        ]
        rows = EventRows(
            etype=etype,
            user=np.zeros(n, dtype=np.int64),
            session=np.zeros(n, dtype=np.int64),
            item=as_int(np.where(is_search, -1, crawl)),
            quantity=as_int(np.where(etype == EventType.ADD_TO_CART, 1, 0)),
            search=as_int(search),
            position=np.zeros(n, dtype=np.int64),
            ts_ms=as_int(day_start_ms + start + offsets),
            tz_offset=np.zeros(n, dtype=np.int64),
        )
        yield BotBatch(rows, _text(bot, catalog, snap, leaves.tolist(), mint_session()))


def _text(
    bot: Bot, catalog: Catalog, snap: DaySnapshot, leaves: list[int], session_json: str
) -> ChunkText:
    """Fragments of a bot session: no email, a fixed IP, the bot's agent; head queries."""
    pii = f'"email":null,"ip":"{ip_text(bot.ip)}","user_agent":{json.dumps(bot.user_agent)}'
    results = [
        "["
        + ",".join(f'"{catalog.ids[i]}"' for i in snap.ranked[leaf][:BOT_RESULTS].tolist())
        + "]"
        for leaf in leaves
    ]
    return ChunkText(
        user_json=[f'"{bot.user_id}"'],
        pii_json=[pii],
        session_json=[session_json],
        query_json=[json.dumps(LEAVES[leaf].noun) for leaf in leaves],
        results_json=results,
    )


def bot_event_counts(n_bots: int, mean: int, rng: np.random.Generator) -> IntArray:
    """How many events each bot makes today (0.6 to 1.4 times the mean)."""
    return as_int(np.round(mean * rng.uniform(0.6, 1.4, size=n_bots)))
