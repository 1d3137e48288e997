"""Shopping sessions of one chunk of users on one day, as columnar event rows.

A session is a funnel: an optional search (and click), a few product views drawn
from the user's tastes and item popularity, some add-to-carts (likelier for items
that fit the user), a few removals, and a checkout that buys what is left in the
cart with a probability that grows with how well the cart fits the user.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass

import numpy as np

from shoprec.synthetic.arrays import BoolArray, FloatArray, IntArray, as_int, group_starts
from shoprec.synthetic.catalog import CONSUMABLE, Catalog, DaySnapshot
from shoprec.synthetic.events import DAY_MS, EPOCH, EventRows, EventType
from shoprec.synthetic.search import Searches, run_searches
from shoprec.synthetic.spec import ShopSpec
from shoprec.synthetic.users import Staples, Users, affinity, taste_leaves
from shoprec.synthetic.vocab import HOUR_WEIGHTS

MAX_VIEWS = 30
P_MORE_VIEWS = 0.78  # views per session are geometric: mean about 1 / (1 - 0.78)
P_INTENT = 0.65  # a view stays on the session's leaf of interest
P_BETTER_PRICE = 0.75  # of two candidates, the better-priced one is viewed
P_REMOVE = 0.15
P_SKIP_STAPLE = 0.15
SEARCH_CLICK_CART_BOOST = 1.8
SESSION_GAP_MS = 30 * 60_000  # a user's sessions are at least this far apart
MAX_GAP_MS = 15 * 60_000
MIN_GAP_MS = 50
# Median and log-spread of the pause before each event type (indexed by EventType).
GAP_MEDIAN_MS = np.array([25_000.0, 12_000.0, 40_000.0, 90_000.0, 0.0, 8_000.0])
GAP_SIGMA = np.array([0.9, 0.6, 0.7, 0.5, 0.0, 0.6])
VIEW_AFTER_CLICK_MS = 1_500.0
NEXT_ORDER_LINE_MS = 300.0
# Sort keys of event kinds inside a session (views and carts interleave by step).
KEY_REMOVE = 100_000
KEY_PURCHASE = 200_000


@dataclass(frozen=True)
class World:
    """Everything about the shop that does not change from day to day."""

    spec: ShopSpec
    catalog: Catalog
    users: Users
    staples: Staples
    leaf_cdf: FloatArray


@dataclass(frozen=True)
class Plan:
    """Sessions of a chunk before their events are drawn."""

    user: IntArray
    intent: IntArray  # leaf of interest
    n_views: IntArray
    buy_qty: IntArray  # > 0: a staple re-purchase of first_item
    first_item: IntArray  # item of the first view, -1 when drawn freely
    search: IntArray  # index into the chunk's Searches, -1 when none

    @property
    def size(self) -> int:
        """Number of sessions."""
        return int(self.user.size)


@dataclass(frozen=True)
class Views:
    """Product views of a chunk and what became of each in the funnel."""

    session: IntArray
    step: IntArray  # 0-based view number inside the session
    item: IntArray
    cart: BoolArray
    removed: BoolArray
    bought: BoolArray
    quantity: IntArray


@dataclass(frozen=True)
class Chunk:
    """A chunk's events (time-ordered) with the sessions and searches they refer to."""

    rows: EventRows
    plan: Plan
    searches: Searches


def build_chunk(
    world: World, snap: DaySnapshot, lo: int, hi: int, rng: np.random.Generator
) -> Chunk:
    """All sessions of users ``lo..hi-1`` on the snapshot's day."""
    plan, searches = _plan(world, snap, lo, hi, rng)
    views = _views(world, snap, plan, rng)
    rows, offsets = _rows(plan, views, searches, rng)
    ends = np.zeros(plan.size, dtype=np.int64)
    np.maximum.at(ends, rows.session, offsets)
    start = _schedule(world.users, plan.user, ends, rng)
    user = plan.user[rows.session]
    stamped = dataclasses.replace(
        rows,
        user=user - lo,
        ts_ms=day_epoch_ms(world.spec.date(snap.day)) + start[rows.session] + offsets,
        tz_offset=world.users.tz_offset[user],
    )
    return Chunk(stamped.take(as_int(np.argsort(stamped.ts_ms, kind="stable"))), plan, searches)


def _plan(
    world: World, snap: DaySnapshot, lo: int, hi: int, rng: np.random.Generator
) -> tuple[Plan, Searches]:
    """Browsing sessions (some starting with a search) plus due staple re-purchases."""
    users, spec = world.users, world.spec
    counts = rng.poisson(spec.sessions_per_user_per_day * users.activity[lo:hi])
    user = as_int(np.repeat(np.arange(lo, hi), counts))
    intent = taste_leaves(users, user, world.leaf_cdf, rng)
    n_views = np.minimum(rng.geometric(1.0 - P_MORE_VIEWS, size=user.size), MAX_VIEWS)
    searching = np.flatnonzero(rng.random(user.size) < spec.search_session_rate)
    searches = run_searches(users, world.catalog, snap, user[searching], intent[searching], rng)
    first_item = np.full(user.size, -1, dtype=np.int64)
    first_item[searching] = searches.clicked
    search = np.full(user.size, -1, dtype=np.int64)
    search[searching] = np.arange(searching.size)
    due = world.staples.due(lo, hi, snap.day)
    due = due[rng.random(due.size) >= P_SKIP_STAPLE]
    st = world.staples
    plan = Plan(
        user=as_int(np.concatenate([user, st.user[due]])),
        intent=as_int(np.concatenate([intent, world.catalog.leaf[st.item[due]]])),
        n_views=as_int(np.concatenate([n_views, np.ones(due.size, dtype=np.int64)])),
        buy_qty=as_int(np.concatenate([np.zeros(user.size, dtype=np.int64), st.quantity[due]])),
        first_item=as_int(np.concatenate([first_item, st.item[due]])),
        search=as_int(np.concatenate([search, np.full(due.size, -1, dtype=np.int64)])),
    )
    return plan, searches


def _views(world: World, snap: DaySnapshot, plan: Plan, rng: np.random.Generator) -> Views:
    """Viewed items and the funnel outcome (cart, removal, purchase) of each view."""
    users, catalog = world.users, world.catalog
    session = as_int(np.repeat(np.arange(plan.size), plan.n_views))
    step = np.arange(session.size) - group_starts(plan.n_views)[session]
    user = plan.user[session]
    other = taste_leaves(users, user, world.leaf_cdf, rng)
    leaf = np.where(rng.random(session.size) < P_INTENT, plan.intent[session], other)
    item = _pick_items(users, catalog, snap, user, as_int(leaf), rng)
    forced = (step == 0) & (plan.first_item[session] >= 0)
    item = np.where(forced, plan.first_item[session], item)
    staple = plan.buy_qty[session] > 0
    appeal = affinity(users, catalog, user, item)
    boost = np.where(forced & (plan.search[session] >= 0), SEARCH_CLICK_CART_BOOST, 1.0)
    p_cart = np.where(staple, 1.0, (0.01 + 0.16 * appeal) * boost) * snap.available[item]
    cart = rng.random(session.size) < p_cart
    removed = cart & ~staple & (rng.random(session.size) < P_REMOVE)
    kept = cart & ~removed
    n_kept = np.bincount(session, weights=kept, minlength=plan.size)
    fit = np.bincount(session, weights=appeal * kept, minlength=plan.size) / np.maximum(n_kept, 1)
    p_buy = np.where(plan.buy_qty > 0, 1.0, 0.1 + 0.6 * fit)
    bought = kept & (rng.random(plan.size) < p_buy)[session]
    return Views(
        session,
        as_int(step),
        item,
        cart,
        removed,
        bought,
        _quantities(catalog, plan, session, item, rng),
    )


def _pick_items(
    users: Users,
    catalog: Catalog,
    snap: DaySnapshot,
    user: IntArray,
    leaf: IntArray,
    rng: np.random.Generator,
) -> IntArray:
    """Popularity-weighted items of each leaf; of two candidates the better priced usually wins."""
    first = snap.sampler.sample(leaf, rng)
    second = snap.sampler.sample(leaf, rng)
    level = users.price_level[user]
    second_fits = np.abs(catalog.price_dev[second] - level) < np.abs(
        catalog.price_dev[first] - level
    )
    better = np.where(second_fits, second, first)
    worse = np.where(second_fits, first, second)
    return as_int(np.where(rng.random(user.size) < P_BETTER_PRICE, better, worse))


def _quantities(
    catalog: Catalog, plan: Plan, session: IntArray, item: IntArray, rng: np.random.Generator
) -> IntArray:
    """Units per cart line: staples fixed, consumables a few, other goods mostly one."""
    consumable = np.minimum(rng.geometric(0.55, size=item.size), 6)
    single = 1 + (rng.random(item.size) < 0.08)
    qty = np.where(CONSUMABLE[catalog.leaf[item]], consumable, single)
    staple_qty = plan.buy_qty[session]
    return as_int(np.where(staple_qty > 0, staple_qty, qty))


def _rows(
    plan: Plan, views: Views, searches: Searches, rng: np.random.Generator
) -> tuple[EventRows, IntArray]:
    """Events in session order, and each event's milliseconds since its session started."""
    searching = np.flatnonzero(plan.search >= 0)
    clicked = searching[searches.clicked >= 0]
    click_search = plan.search[clicked]
    parts = [
        _part(EventType.SEARCH, searching, 0, -1, 0, plan.search[searching], 0),
        _part(
            EventType.SEARCH_CLICK,
            clicked,
            1,
            searches.clicked[click_search],
            0,
            click_search,
            searches.position[click_search],
        ),
    ]
    step = views.step
    for etype, mask, key in (
        (EventType.VIEW, np.ones(views.session.size, dtype=np.bool_), 10 + 3 * step),
        (EventType.ADD_TO_CART, views.cart, 11 + 3 * step),
        (EventType.REMOVE_FROM_CART, views.removed, KEY_REMOVE + step),
        (EventType.PURCHASE, views.bought, KEY_PURCHASE + step),
    ):
        qty = 0 if etype is EventType.VIEW else views.quantity[mask]
        parts.append(_part(etype, views.session[mask], key[mask], views.item[mask], qty, -1, 0))
    cols = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    order = np.lexsort((cols.pop("key"), cols["session"]))
    rows = EventRows(
        **{k: as_int(v[order]) for k, v in cols.items()},
        ts_ms=np.zeros(order.size, dtype=np.int64),
        tz_offset=np.zeros(order.size, dtype=np.int64),
    )
    return rows, _offsets(rows, rng)


def _part(
    etype: EventType,
    session: IntArray,
    key: IntArray | int,
    item: IntArray | int,
    quantity: IntArray | int,
    search: IntArray | int,
    position: IntArray | int,
) -> dict[str, IntArray]:
    """Columns of one kind of event; scalars are broadcast."""
    n = session.size
    cols = {"key": key, "item": item, "quantity": quantity, "search": search, "position": position}
    out = {name: as_int(np.broadcast_to(v, n)) for name, v in cols.items()}
    return {
        **out,
        "etype": np.full(n, int(etype), dtype=np.int64),
        "session": as_int(session),
        "user": np.zeros(n, dtype=np.int64),
    }


def _offsets(rows: EventRows, rng: np.random.Generator) -> IntArray:
    """Milliseconds from session start: a type-dependent pause before every event."""
    etype = rows.etype
    gap = GAP_MEDIAN_MS[etype] * rng.lognormal(0.0, GAP_SIGMA[etype])
    prev = np.full(etype.size, -1, dtype=np.int64)
    prev[1:] = etype[:-1]
    same = np.zeros(etype.size, dtype=np.bool_)
    same[1:] = rows.session[1:] == rows.session[:-1]
    gap = np.where(
        same & (etype == EventType.VIEW) & (prev == EventType.SEARCH_CLICK),
        VIEW_AFTER_CLICK_MS * rng.lognormal(0.0, 0.4, etype.size),
        gap,
    )
    gap = np.where(
        same & (etype == EventType.PURCHASE) & (prev == EventType.PURCHASE),
        NEXT_ORDER_LINE_MS * rng.lognormal(0.0, 0.4, etype.size),
        gap,
    )
    gap = np.where(same, np.clip(gap, MIN_GAP_MS, MAX_GAP_MS), 0).astype(np.int64)
    total = np.cumsum(gap)
    first = np.flatnonzero(~same)
    return as_int(total - np.repeat(total[first] - gap[first], np.diff(np.r_[first, gap.size])))


def _schedule(users: Users, user: IntArray, length: IntArray, rng: np.random.Generator) -> IntArray:
    """Session start (ms after UTC midnight): local hours follow a daily rhythm, no overlaps."""
    p = np.array(HOUR_WEIGHTS) / sum(HOUR_WEIGHTS)
    hour = rng.choice(24, size=user.size, p=p)
    local = hour * 3_600_000 + rng.integers(0, 3_600_000, size=user.size)
    start = (local - users.tz_offset[user] * 60_000) % DAY_MS
    order = np.lexsort((start, user))
    start = _spread(user[order], start[order], length[order])
    out = np.empty_like(start)
    out[order] = np.minimum(start, DAY_MS - 1 - length[order])
    return as_int(out)


def _spread(user: IntArray, start: IntArray, length: IntArray) -> IntArray:
    """Push a user's later sessions after the previous one ends (input sorted by user, start)."""
    start = start.copy()
    for k in np.flatnonzero(user[1:] == user[:-1]).tolist():
        start[k + 1] = max(start[k + 1], start[k] + length[k] + SESSION_GAP_MS)
    return start


def day_epoch_ms(date: datetime.date) -> int:
    """Milliseconds from the Unix epoch to UTC midnight of ``date``."""
    return (date - EPOCH).days * DAY_MS
