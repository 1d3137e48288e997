"""Site search: queries (head, brand, long-tail, Chinese; typos and synonyms), results, clicks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from shoprec.synthetic.arrays import FloatArray, IntArray, as_int
from shoprec.synthetic.catalog import Catalog, DaySnapshot
from shoprec.synthetic.users import Users, affinity
from shoprec.synthetic.vocab import LEAVES

MAX_RESULTS = 20
MIN_RESULTS = 10
P_TYPO = 0.07
P_SYNONYM = 0.4
NO_CLICK_WEIGHT = 0.5  # weight of abandoning a result list, against sum(attraction / rank)
# Extra appeal of a result that is what the query asked for: the item a long-tail
# query was copied from, and items of the brand a brand query names. Clicks thus
# depend on query relevance as well as on the user's tastes and the position.
TITLE_TARGET_APPEAL = 0.6
BRAND_MATCH_APPEAL = 0.4


class QueryKind(IntEnum):
    """How a query was formed."""

    HEAD = 0  # the leaf's product noun or a synonym ("phone", "trainers")
    BRAND = 1  # brand plus noun ("xiaomi phone")
    TITLE = 2  # words of one item's title: the long tail
    CHINESE = 3  # Chinese or mixed ("手机", "小米 手机")


QUERY_KIND_P = np.array([0.45, 0.25, 0.2, 0.1])


@dataclass(frozen=True)
class Searches:
    """A batch of searches, aligned with the sessions that issued them."""

    query: tuple[str, ...]
    results: IntArray  # (n, MAX_RESULTS) item indices in display order, -1 padded
    position: IntArray  # 1-based clicked position, 0 when nothing was clicked
    clicked: IntArray  # clicked item, -1 when nothing was clicked

    @property
    def size(self) -> int:
        """Number of searches."""
        return len(self.query)


def run_searches(
    users: Users,
    catalog: Catalog,
    snap: DaySnapshot,
    user: IntArray,
    leaf: IntArray,
    rng: np.random.Generator,
) -> Searches:
    """One search per (user, leaf of interest): its query, its results and the click."""
    n = user.size
    kind = as_int(rng.choice(len(QueryKind), size=n, p=QUERY_KIND_P))
    target = snap.sampler.sample(leaf, rng)
    u = rng.random((n, 7))
    queries = tuple(
        _query(catalog, int(leaf[i]), int(target[i]), QueryKind(int(kind[i])), u[i].tolist())
        for i in range(n)
    )
    noise = np.where(u[:, 4] < P_TYPO, 1.2, 0.6)  # typos: a sloppier result list
    results = _results(catalog, snap, leaf, kind, target, noise, rng)
    position, clicked = _clicks(users, catalog, user, results, kind, target, rng)
    return Searches(query=queries, results=results, position=position, clicked=clicked)


def _query(catalog: Catalog, leaf: int, target: int, kind: QueryKind, u: list[float]) -> str:
    """A query string of ``kind`` aimed at ``leaf`` (and at ``target`` for long-tail ones)."""
    spot = LEAVES[leaf]
    noun = spot.noun
    if u[0] < P_SYNONYM:
        noun = spot.synonyms[int(u[1] * len(spot.synonyms))]
    brand = catalog.brand[target]
    if kind is QueryKind.CHINESE:
        options = (spot.zh, f"{brand.zh or brand.name.lower()} {spot.zh}", f"{spot.zh} {noun}")
        return options[int(u[2] * len(options))]
    if kind is QueryKind.HEAD:
        text = noun
    elif kind is QueryKind.BRAND:
        text = f"{brand.name.lower()} {noun}"
    else:
        text = _title_words(catalog.title[target], u[2], u[3])
    return typo(text, u[5], u[6]) if u[4] < P_TYPO else text


def _title_words(title: str, u_len: float, u_start: float) -> str:
    """Two or three consecutive English words of a title, lower-cased."""
    words = [w.lower() for w in title.split() if w.isascii()]
    length = 2 if u_len < 0.5 else 3
    start = int(u_start * max(1, len(words) - length + 1))
    return " ".join(words[start : start + length])


def typo(text: str, u_word: float, u_char: float) -> str:
    """``text`` with one character dropped or two neighbours swapped in a word of 4+ letters."""
    words = text.split(" ")
    long_words = [k for k, w in enumerate(words) if len(w) >= 4 and w.isascii()]
    if not long_words:
        return text
    k = long_words[int(u_word * len(long_words))]
    word = words[k]
    at = 1 + int(u_char * (len(word) - 2))  # never the first letter
    if u_word * len(long_words) % 1 < 0.5:
        words[k] = word[:at] + word[at + 1 :]
    else:
        words[k] = word[: at - 1] + word[at] + word[at - 1] + word[at + 1 :]
    return " ".join(words)


def _results(
    catalog: Catalog,
    snap: DaySnapshot,
    leaf: IntArray,
    kind: IntArray,
    target: IntArray,
    noise: FloatArray,
    rng: np.random.Generator,
) -> IntArray:
    """Ranked result lists: popular items of the leaf, brand and title matches first."""
    n = leaf.size
    pool = snap.pool[leaf]
    prior = snap.pool_prior[leaf]
    title = kind == QueryKind.TITLE
    missing = title & ~(pool == target[:, None]).any(axis=1)  # long-tail target: make room
    pool[:, -1] = np.where(missing, target, pool[:, -1])
    prior[:, -1] = np.where(missing, np.log(snap.weight[target]), prior[:, -1])
    items = np.maximum(pool, 0)
    score = prior + rng.gumbel(0.0, 1.0, size=pool.shape) * noise[:, None]
    score += 0.3 * snap.available[items]
    brand = catalog.brand_code[items] == catalog.brand_code[target][:, None]
    score += 1.5 * (brand & (kind == QueryKind.BRAND)[:, None])
    score += 6.0 * ((items == target[:, None]) & title[:, None])
    score = np.where(pool >= 0, score, -np.inf)
    order = np.argsort(-score, axis=1, kind="stable")[:, :MAX_RESULTS]
    shown = np.take_along_axis(pool, order, axis=1)
    length = rng.integers(MIN_RESULTS, MAX_RESULTS + 1, size=n)
    return as_int(np.where(np.arange(MAX_RESULTS) < length[:, None], shown, -1))


def _clicks(
    users: Users,
    catalog: Catalog,
    user: IntArray,
    results: IntArray,
    kind: IntArray,
    target: IntArray,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray]:
    """At most one click per search: examination falls as 1/rank, appeal is user affinity."""
    n = user.size
    shown = results >= 0
    items = np.where(shown, results, 0)
    appeal = affinity(users, catalog, np.repeat(user, MAX_RESULTS), items.ravel()).reshape(
        items.shape
    )
    appeal += TITLE_TARGET_APPEAL * (
        (results == target[:, None]) & (kind == QueryKind.TITLE)[:, None]
    )
    same_brand = catalog.brand_code[items] == catalog.brand_code[target][:, None]
    appeal += BRAND_MATCH_APPEAL * (same_brand & (kind == QueryKind.BRAND)[:, None])
    weight = appeal * shown / np.arange(1, MAX_RESULTS + 1)
    cum = np.cumsum(weight, axis=1)
    r = rng.random(n) * (cum[:, -1] + NO_CLICK_WEIGHT) - NO_CLICK_WEIGHT
    last = np.maximum(shown.sum(axis=1) - 1, 0)
    pos = np.minimum((cum <= r[:, None]).sum(axis=1), last)
    clicked = (r >= 0) & shown.any(axis=1)
    return (
        as_int(np.where(clicked, pos + 1, 0)),
        as_int(np.where(clicked, results[np.arange(n), pos], -1)),
    )


def sample_queries(
    catalog: Catalog, snap: DaySnapshot, n: int, rng: np.random.Generator
) -> list[tuple[str, int]]:
    """``n`` queries as shoppers write them, each with the leaf it aims at (for benchmarks).

    Leaves are drawn by popularity and queries by the same mix of kinds, typos and
    synonyms as :func:`run_searches` uses.
    """
    weights = catalog.leaf_weight / catalog.leaf_weight.sum()
    leaf = as_int(rng.choice(len(LEAVES), size=n, p=weights))
    kind = as_int(rng.choice(len(QueryKind), size=n, p=QUERY_KIND_P))
    target = snap.sampler.sample(leaf, rng)
    u = rng.random((n, 7))
    return [
        (
            _query(catalog, int(leaf[i]), int(target[i]), QueryKind(int(kind[i])), u[i].tolist()),
            int(leaf[i]),
        )
        for i in range(n)
    ]
