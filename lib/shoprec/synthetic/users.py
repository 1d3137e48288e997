"""Shoppers with latent tastes (preferred leaf categories, a price level) and staple purchases."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from shoprec.synthetic.arrays import BoolArray, FloatArray, IntArray, as_int
from shoprec.synthetic.catalog import CONSUMABLE, LEAF_TOP, TOPS, Catalog, ItemSampler
from shoprec.synthetic.rng import Stream, make_rng
from shoprec.synthetic.spec import ShopSpec
from shoprec.synthetic.vocab import (
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    TIME_ZONES,
    USER_AGENTS,
)

MAX_PREFS = 4
SAME_TOP_SHARE = 0.6  # chance a preferred leaf comes from the user's home top-level category
PRICE_TOLERANCE = 0.5  # log-price distance at which price fit falls to exp(-1/2)
STAPLE_PERIODS = as_int([2, 3, 4, 5, 7])
STAPLE_PERIOD_P = np.array([0.15, 0.25, 0.25, 0.2, 0.15])
P_STAPLE = 0.25  # chance a strongly preferred consumable leaf yields a staple item


@dataclass(frozen=True)
class Users:
    """Latent user attributes, one row per user index."""

    pref_leaf: IntArray  # (users, MAX_PREFS); unused slots repeat the first leaf with weight 0
    pref_weight: FloatArray  # (users, MAX_PREFS), rows sum to 1
    explore: FloatArray  # chance an interest is drawn from global popularity instead
    price_level: FloatArray  # preferred log-price offset from a leaf's median
    activity: FloatArray  # session rate multiplier, mean 1
    tz_offset: IntArray  # minutes east of UTC
    persona: IntArray  # (users, 5): first name, last name, number, domain, agent
    ip: IntArray  # IPv4 address as an integer

    @property
    def size(self) -> int:
        """Number of users."""
        return int(self.activity.size)


def user_id(index: int) -> str:
    """The public id of user ``index``."""
    return f"u{index:06d}"


def build_users(spec: ShopSpec, catalog: Catalog) -> Users:
    """All users of the run, deterministic from the spec."""
    rng = make_rng(spec.seed, Stream.USERS)
    n = spec.users
    pref_leaf = _pref_leaves(n, catalog, rng)
    k = rng.integers(2, MAX_PREFS + 1, size=n)
    raw = rng.gamma(0.8, size=(n, MAX_PREFS)) * (np.arange(MAX_PREFS) < k[:, None])
    raw[:, 0] += 1e-9  # never an all-zero row
    offsets = as_int([tz for tz, _ in TIME_ZONES])
    tz_p = np.array([w for _, w in TIME_ZONES])
    persona = np.stack(
        [
            rng.integers(0, len(FIRST_NAMES), n),
            rng.integers(0, len(LAST_NAMES), n),
            rng.integers(1, 1000, n),
            rng.integers(0, len(EMAIL_DOMAINS), n),
            rng.integers(0, len(USER_AGENTS), n),
        ],
        axis=1,
    )
    return Users(
        pref_leaf=np.where(np.arange(MAX_PREFS) < k[:, None], pref_leaf, pref_leaf[:, :1]),
        pref_weight=raw / raw.sum(axis=1, keepdims=True),
        explore=rng.beta(2.0, 8.0, size=n),
        price_level=rng.normal(0.0, 0.45, size=n),
        activity=rng.lognormal(-0.32, 0.8, size=n),
        tz_offset=offsets[rng.choice(offsets.size, size=n, p=tz_p / tz_p.sum())],
        persona=as_int(persona),
        ip=as_int(rng.integers(0x0B000000, 0xDF000000, size=n)),
    )


def _pref_leaves(n: int, catalog: Catalog, rng: np.random.Generator) -> IntArray:
    """(n, MAX_PREFS) preferred leaves, clustered in one home top-level category."""
    active = catalog.active_leaves
    active_tops = np.unique(LEAF_TOP[active])
    home = active_tops[rng.integers(0, active_tops.size, size=n)]
    by_top = [active[LEAF_TOP[active] == t] for t in range(len(TOPS))]
    counts = as_int([len(x) for x in by_top])
    flat = np.concatenate(by_top)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    u = rng.random((n, MAX_PREFS))
    local = flat[starts[home][:, None] + (u * counts[home][:, None]).astype(np.int64)]
    glob = active[_draw(catalog.leaf_weight[active], rng, (n, MAX_PREFS))]
    return as_int(np.where(rng.random((n, MAX_PREFS)) < SAME_TOP_SHARE, local, glob))


def _draw(weights: FloatArray, rng: np.random.Generator, shape: tuple[int, ...]) -> IntArray:
    """Indices drawn with probability proportional to ``weights``."""
    cum = np.cumsum(weights)
    cdf = cum / cum[-1]
    idx = np.searchsorted(cdf, rng.random(shape), side="right")
    return as_int(np.minimum(idx, weights.size - 1))


def taste_leaves(
    users: Users, user: IntArray, leaf_cdf: FloatArray, rng: np.random.Generator
) -> IntArray:
    """One leaf of interest per entry of ``user``: a preferred leaf, or sometimes any leaf."""
    cum = np.cumsum(users.pref_weight[user], axis=1)
    slot = np.minimum((cum < rng.random(user.size)[:, None]).sum(axis=1), MAX_PREFS - 1)
    preferred = users.pref_leaf[user, slot]
    anywhere = np.minimum(
        np.searchsorted(leaf_cdf, rng.random(user.size), side="right"), leaf_cdf.size - 1
    )
    return as_int(np.where(rng.random(user.size) < users.explore[user], anywhere, preferred))


def taste_weight(users: Users, user: IntArray, leaf: IntArray) -> FloatArray:
    """How much each user likes the given leaf, 0..1."""
    match = users.pref_leaf[user] == leaf.reshape(-1, 1)
    return np.asarray((users.pref_weight[user] * match).sum(axis=1), dtype=np.float64)


def affinity(users: Users, catalog: Catalog, user: IntArray, item: IntArray) -> FloatArray:
    """How appealing an item is to a user, 0.075..1: category taste times price fit."""
    taste = np.minimum(1.0, 2.0 * taste_weight(users, user, catalog.leaf[item]))
    gap = (catalog.price_dev[item] - users.price_level[user]) / PRICE_TOLERANCE
    fit = np.exp(-0.5 * gap * gap)
    return np.asarray((0.3 + 0.7 * taste) * (0.25 + 0.75 * fit), dtype=np.float64)


_AGENTS_JSON: tuple[str, ...] = tuple(json.dumps(a) for a in USER_AGENTS)


def pii_json(users: Users, index: int) -> str:
    """The personal-data fragment of a user's events: email, ip and user agent."""
    first, last, number, domain, agent = users.persona[index].tolist()
    email = f"{FIRST_NAMES[first]}.{LAST_NAMES[last]}{number}@{EMAIL_DOMAINS[domain]}"
    ip = ip_text(int(users.ip[index]))
    return f'"email":"{email}","ip":"{ip}","user_agent":{_AGENTS_JSON[agent]}'


def ip_text(ip: int) -> str:
    """Dotted IPv4 text of an integer address."""
    return f"{ip >> 24 & 255}.{ip >> 16 & 255}.{ip >> 8 & 255}.{ip & 255}"


@dataclass(frozen=True)
class Staples:
    """Consumables users re-buy on a schedule (sorted by user)."""

    user: IntArray
    item: IntArray
    period: IntArray  # days between purchases
    phase: IntArray
    quantity: IntArray

    def due(self, lo: int, hi: int, day: int) -> IntArray:
        """Indices of staples of users ``lo..hi-1`` due on ``day``."""
        a, b = np.searchsorted(self.user, [lo, hi])
        idx = np.arange(a, b)
        return as_int(idx[(day + self.phase[idx]) % self.period[idx] == 0])


def build_staples(spec: ShopSpec, users: Users, catalog: Catalog) -> Staples:
    """Staple items for users who like consumable leaves."""
    rng = make_rng(spec.seed, Stream.STAPLES)
    eligible = CONSUMABLE[users.pref_leaf] & (users.pref_weight > 0.25)
    chosen: BoolArray = eligible & (rng.random(eligible.shape) < P_STAPLE)
    user, slot = np.nonzero(chosen)
    initial = np.where(catalog.added_day <= 0, catalog.popularity, 0.0)
    sampler = ItemSampler.build(catalog.leaf, initial)
    item = sampler.sample(users.pref_leaf[user, slot], rng)
    period = STAPLE_PERIODS[rng.choice(STAPLE_PERIODS.size, size=user.size, p=STAPLE_PERIOD_P)]
    return Staples(
        user=as_int(user),
        item=item,
        period=period,
        phase=as_int(rng.integers(0, 7, size=user.size) % period),
        quantity=as_int(rng.integers(1, 4, size=user.size)),
    )


def leaf_cdf(catalog: Catalog) -> FloatArray:
    """Cumulative leaf popularity, for interests drawn outside a user's tastes."""
    cum = np.cumsum(catalog.leaf_weight)
    return np.asarray(cum / cum[-1])
