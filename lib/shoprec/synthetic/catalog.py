"""The item catalog: static item attributes and the day-by-day snapshot (presence, stock, price)."""

from __future__ import annotations

import bisect
import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from shoprec.synthetic.arrays import BoolArray, FloatArray, IntArray, as_int, group_starts
from shoprec.synthetic.rng import Stream, make_rng
from shoprec.synthetic.spec import ShopSpec
from shoprec.synthetic.vocab import (
    ATTRIBUTES,
    BRANDS,
    DESCRIPTION_TAILS,
    LEAVES,
    SERIES,
    Brand,
    Leaf,
)

TOPS: tuple[str, ...] = tuple(dict.fromkeys(leaf.top for leaf in LEAVES))
LEAF_TOP: IntArray = as_int([TOPS.index(leaf.top) for leaf in LEAVES])
CONSUMABLE: BoolArray = np.array([leaf.consumable for leaf in LEAVES], dtype=np.bool_)

PRICE_SPREAD = 0.5  # log-normal spread of item prices around their leaf's median
P_OUT_OF_STOCK = 0.01  # daily chance an available item goes out of stock
P_RESTOCK = 0.3  # daily chance an unavailable item comes back
P_PROMO = 0.06  # daily chance an item is discounted
NOVELTY_BOOST = 6.0  # extra popularity of a brand-new item, decaying over days
NOVELTY_DAYS = 2.0
SEARCH_POOL = 40  # items per leaf the search engine considers (popular first)
SEARCH_MIN_POOL = 20  # leaves with fewer items borrow popular items of their top category
OUTSIDE_LEAF_PENALTY = 3.0


@dataclass(frozen=True)
class Catalog:
    """Every item that exists at some point of the run (index = position in the arrays)."""

    ids: tuple[str, ...]
    leaf: IntArray
    brand: tuple[Brand, ...]
    brand_code: IntArray  # one integer per distinct brand, for fast comparisons
    title: tuple[str, ...]
    description: tuple[str, ...]
    base_price: FloatArray
    price_dev: FloatArray  # log(base price / leaf median): where the item sits in its leaf
    popularity: FloatArray  # long-tailed (Pareto) appeal within its leaf
    added_day: IntArray  # day index the item appears (negative: before the run)
    leaf_weight: FloatArray  # how popular each leaf is; 0 for leaves without items

    @property
    def size(self) -> int:
        """Number of items over the whole run."""
        return len(self.ids)

    @property
    def active_leaves(self) -> IntArray:
        """Leaves that have items from the first day on."""
        return as_int(np.flatnonzero(self.leaf_weight > 0))

    def added_date(self, spec: ShopSpec, item: int) -> str:
        """The ISO date an item was added to the shop."""
        return spec.date(int(self.added_day[item])).isoformat()


def item_id(index: int) -> str:
    """The public id of item ``index``."""
    return f"i{index:05d}"


def build_catalog(spec: ShopSpec) -> Catalog:
    """All items of the run, deterministic from the spec."""
    rng = make_rng(spec.seed, Stream.CATALOG)
    n_new = min(int(spec.items * spec.new_item_fraction), spec.items - 1) if spec.days > 1 else 0
    leaf_size = rng.gamma(2.0, size=len(LEAVES))
    initial = _initial_leaves(spec.items - n_new, leaf_size, rng)
    active = np.unique(initial)
    p_new = leaf_size[active] / leaf_size[active].sum()
    leaf = np.concatenate([initial, rng.choice(active, size=n_new, p=p_new)])
    added = np.concatenate(
        [-rng.integers(1, 731, size=initial.size), np.sort(rng.integers(1, spec.days, n_new))]
    )
    dev = rng.normal(0.0, PRICE_SPREAD, size=leaf.size)
    median = np.array([LEAVES[i].median_price for i in leaf])
    texts = _texts(leaf, spec.chinese_title_rate, rng)
    leaf_weight = np.zeros(len(LEAVES))
    leaf_weight[active] = leaf_size[active]
    return Catalog(
        ids=tuple(item_id(i) for i in range(leaf.size)),
        leaf=as_int(leaf),
        brand=texts.brands,
        brand_code=_brand_codes(texts.brands),
        title=texts.titles,
        description=texts.descriptions,
        base_price=np.array([_shop_price(p) for p in median * np.exp(dev)]),
        price_dev=dev,
        popularity=rng.pareto(1.2, size=leaf.size) + 1.0,
        added_day=as_int(added),
        leaf_weight=leaf_weight,
    )


def _initial_leaves(n: int, leaf_size: FloatArray, rng: np.random.Generator) -> IntArray:
    """Leaves of the first-day items: every leaf gets one item when there are enough."""
    n_leaves = len(LEAVES)
    if n < n_leaves:
        return as_int(rng.choice(n_leaves, size=n, replace=False))
    rest = rng.choice(n_leaves, size=n - n_leaves, p=leaf_size / leaf_size.sum())
    return as_int(np.concatenate([np.arange(n_leaves), rest]))


def _shop_price(price: float) -> float:
    """A shelf price: x.99 above ten, cents below."""
    return float(math.ceil(price) - 0.01) if price >= 10 else max(round(price, 2), 0.49)


@dataclass(frozen=True)
class _Texts:
    """Brand, title and description of every item."""

    brands: tuple[Brand, ...]
    titles: tuple[str, ...]
    descriptions: tuple[str, ...]


def _texts(leaf: IntArray, zh_rate: float, rng: np.random.Generator) -> _Texts:
    """Brand, title and description of each item."""
    n = leaf.size
    brand_u, attr_u, series_u, tail_u = rng.random((4, n))
    number = rng.integers(2, 20, size=n)
    zh = rng.random(n) < zh_rate
    brands, titles, descriptions = [], [], []
    for i in range(n):
        spot = LEAVES[int(leaf[i])]
        brand = _pick_brand(BRANDS[spot.top], float(brand_u[i]))
        attrs = ATTRIBUTES[spot.top]
        attr = attrs[int(attr_u[i] * len(attrs))]
        model = f"{SERIES[int(series_u[i] * len(SERIES))]} {number[i]}"
        brands.append(brand)
        titles.append(_title(spot, brand, model, attr, bool(zh[i])))
        tail = DESCRIPTION_TAILS[int(tail_u[i] * len(DESCRIPTION_TAILS))]
        descriptions.append(f"{attr} {spot.noun} by {brand.name}, model {model}. {tail}")
    return _Texts(tuple(brands), tuple(titles), tuple(descriptions))


def _brand_codes(brands: tuple[Brand, ...]) -> IntArray:
    """A small integer per distinct brand name."""
    codes: dict[str, int] = {}
    return as_int([codes.setdefault(b.name, len(codes)) for b in brands])


def _pick_brand(brands: tuple[Brand, ...], u: float) -> Brand:
    """A brand for uniform ``u``; brands early in the list are picked more often."""
    cdf = list(itertools.accumulate(1.0 / (k + 1) ** 0.7 for k in range(len(brands))))
    return brands[min(bisect.bisect_right(cdf, u * cdf[-1]), len(brands) - 1)]


def _title(leaf: Leaf, brand: Brand, model: str, attr: str, zh: bool) -> str:
    """An English title, or a mixed Chinese/English one."""
    if zh:
        return f"{brand.zh or brand.name} {model} {leaf.zh} {leaf.noun}"
    return f"{brand.name} {model} {attr} {leaf.noun}"


@dataclass(frozen=True)
class ItemSampler:
    """Draws an item of a given leaf with probability proportional to its weight."""

    order: IntArray  # item indices sorted by leaf
    keys: FloatArray  # leaf + cumulative weight share within the leaf, aligned with order

    @classmethod
    def build(cls, leaf: IntArray, weight: FloatArray) -> ItemSampler:
        """A sampler for items of ``leaf`` weighted by ``weight`` (zero: never drawn)."""
        order = as_int(np.argsort(leaf, kind="stable"))
        sorted_leaf = leaf[order]
        cum = np.cumsum(weight[order])
        counts = np.bincount(sorted_leaf, minlength=len(LEAVES))
        starts = group_starts(as_int(counts))
        base = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
        ends = np.maximum(starts + counts - 1, 0)
        total = cum[ends] - base if cum.size else np.zeros(len(LEAVES))
        safe = np.where(total > 0, total, 1.0)
        within = (cum - base[sorted_leaf]) / safe[sorted_leaf]
        return cls(order=order, keys=sorted_leaf + np.minimum(within, 1.0))

    def sample(self, leaves: IntArray, rng: np.random.Generator) -> IntArray:
        """One item per entry of ``leaves``; each leaf must hold an item of positive weight."""
        u = rng.random(leaves.size) * 0.999999
        pos = np.searchsorted(self.keys, leaves + u, side="right")
        return as_int(self.order[np.minimum(pos, self.order.size - 1)])


@dataclass(frozen=True)
class DaySnapshot:
    """The catalog as of one day: which items exist, are in stock, and what they cost."""

    day: int
    present: BoolArray
    available: BoolArray
    price: FloatArray
    weight: FloatArray  # today's popularity (novelty boosted); 0 for absent items
    sampler: ItemSampler
    ranked: tuple[IntArray, ...]  # per leaf: present items by weight, best first
    top_ranked: tuple[IntArray, ...]  # per top-level category: present items by weight
    new_items: int  # items that appear on this day
    pool: IntArray  # (leaves, SEARCH_POOL): search candidates per leaf, -1 padded
    pool_prior: FloatArray  # (leaves, SEARCH_POOL): their base search score, -inf for padding


def iter_snapshots(catalog: Catalog, spec: ShopSpec) -> Iterator[DaySnapshot]:
    """One snapshot per day of the run; stock carries over from day to day."""
    stock = np.ones(catalog.size, dtype=np.bool_)
    for day in range(spec.days):
        rng = make_rng(spec.seed, Stream.CATALOG_DAY, day)
        stock = _next_stock(stock, rng, first=day == 0)
        yield _snapshot(catalog, day, stock, _day_prices(catalog, rng))


def _next_stock(stock: BoolArray, rng: np.random.Generator, first: bool) -> BoolArray:
    """Stock of the next day: a two-state Markov chain per item."""
    u = rng.random(stock.size)
    if first:
        return u >= P_OUT_OF_STOCK / (P_OUT_OF_STOCK + P_RESTOCK)
    return np.where(stock, u >= P_OUT_OF_STOCK, u < P_RESTOCK)


def _day_prices(catalog: Catalog, rng: np.random.Generator) -> FloatArray:
    """Today's prices: base prices with a few promotions."""
    promo = rng.random(catalog.size) < P_PROMO
    discount = np.where(promo, rng.uniform(0.1, 0.3, catalog.size), 0.0)
    return np.round(np.maximum(catalog.base_price * (1.0 - discount), 0.01), 2)


def _snapshot(catalog: Catalog, day: int, stock: BoolArray, price: FloatArray) -> DaySnapshot:
    """The catalog as of ``day``, with today's stock and prices."""
    present = catalog.added_day <= day
    age = (day - catalog.added_day).astype(np.float64)
    novelty = np.where(catalog.added_day > 0, 1.0 + NOVELTY_BOOST * np.exp(-age / NOVELTY_DAYS), 1)
    weight = np.where(present, catalog.popularity * novelty, 0.0)
    ranked = _rank(catalog.leaf, weight, len(LEAVES))
    top_ranked = _rank(LEAF_TOP[catalog.leaf], weight, len(TOPS))
    pool, outside = _search_pool(ranked, top_ranked)
    return DaySnapshot(
        day=day,
        present=present,
        available=present & stock,
        price=price,
        weight=weight,
        sampler=ItemSampler.build(catalog.leaf, weight),
        ranked=ranked,
        top_ranked=top_ranked,
        new_items=int(np.count_nonzero(catalog.added_day == day)),
        pool=pool,
        pool_prior=_pool_prior(pool, outside, weight),
    )


def _rank(group: IntArray, weight: FloatArray, n_groups: int) -> tuple[IntArray, ...]:
    """Per group, the indices of items with positive weight, heaviest first."""
    keep = np.flatnonzero(weight > 0)
    order = keep[np.lexsort((-weight[keep], group[keep]))]
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    return tuple(as_int(order[bounds[g] : bounds[g + 1]]) for g in range(n_groups))


def _search_pool(
    ranked: tuple[IntArray, ...], top_ranked: tuple[IntArray, ...]
) -> tuple[IntArray, FloatArray]:
    """Search candidates per leaf (-1 padded), and 1.0 where borrowed from the top category."""
    pool = np.full((len(LEAVES), SEARCH_POOL), -1, dtype=np.int64)
    outside = np.zeros(pool.shape)
    for leaf, own in enumerate(ranked):
        own = own[:SEARCH_POOL]
        more = top_ranked[int(LEAF_TOP[leaf])][: SEARCH_POOL + own.size]
        more = more[~np.isin(more, own)][: max(0, SEARCH_MIN_POOL - own.size)]
        pool[leaf, : own.size] = own
        pool[leaf, own.size : own.size + more.size] = more
        outside[leaf, own.size : own.size + more.size] = 1.0
    return pool, outside


def _pool_prior(pool: IntArray, outside: FloatArray, weight: FloatArray) -> FloatArray:
    """Base search score of pool entries: log popularity, less for borrowed items."""
    log_weight = np.log(np.where(pool >= 0, weight[pool], 1.0))
    return np.where(pool >= 0, log_weight - OUTSIDE_LEAF_PENALTY * outside, -np.inf)


def catalog_lines(catalog: Catalog, snap: DaySnapshot, spec: ShopSpec) -> list[str]:
    """The day's catalog snapshot as JSON lines, in item id order."""
    lines = []
    for i in np.flatnonzero(snap.present).tolist():
        record = {
            "item_id": catalog.ids[i],
            "title": catalog.title[i],
            "description": catalog.description[i],
            "category_path": LEAVES[int(catalog.leaf[i])].path,
            "brand": catalog.brand[i].name,
            "price": float(snap.price[i]),
            "currency": spec.currency,
            "available": bool(snap.available[i]),
            "added_date": catalog.added_date(spec, i),
        }
        lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    return lines
