"""The planted structure is there: tastes, popularity, funnels, search behaviour, staples, growth."""

from __future__ import annotations

import collections
import datetime
from typing import TYPE_CHECKING, Any

import pytest

from shoprec.synthetic import planted_staples, planted_tastes
from shoprec.synthetic.vocab import LEAVES

if TYPE_CHECKING:
    from conftest import Shop


@pytest.fixture(scope="module")
def events(behaviour_shop: Shop) -> list[tuple[str, dict[str, Any]]]:
    return list(behaviour_shop.all_events())


@pytest.fixture(scope="module")
def category(behaviour_shop: Shop) -> dict[str, str]:
    last = behaviour_shop.dates()[-1]
    return {i: item["category_path"] for i, item in behaviour_shop.catalog(last).items()}


def test_purchases_concentrate_in_planted_tastes(
    behaviour_shop: Shop, events: list, category: dict[str, str]
) -> None:
    tastes = planted_tastes(behaviour_shop.spec)
    bought = [e for _, e in events if e["event_type"] == "purchase"]
    hits = sum(category[e["item_id"]] in tastes[e["user_id"]] for e in bought)
    chance = sum(len(t) for t in tastes.values()) / len(tastes) / len(LEAVES)
    assert len(bought) > 300
    assert hits / len(bought) > max(0.6, 5 * chance)


def test_personal_history_beats_global_popularity(
    behaviour_shop: Shop, events: list, category: dict[str, str]
) -> None:
    """Top-3 categories of a user's own past views predict tomorrow far better than global top-3."""
    last = behaviour_shop.dates()[-1]
    history: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    overall: collections.Counter[str] = collections.Counter()
    for date, e in events:
        if date < last and e["event_type"] == "view":
            history[e["user_id"]][category[e["item_id"]]] += 1
            overall[category[e["item_id"]]] += 1
    top_global = {c for c, _ in overall.most_common(3)}
    personal = popular = total = 0
    for date, e in events:
        if date == last and e["event_type"] in ("view", "purchase") and e["user_id"] in history:
            cat = category[e["item_id"]]
            personal += cat in {c for c, _ in history[e["user_id"]].most_common(3)}
            popular += cat in top_global
            total += 1
    assert total > 500
    assert personal / total > 2 * popular / total


def test_item_popularity_is_long_tailed(events: list) -> None:
    views = collections.Counter(e["item_id"] for _, e in events if e["event_type"] == "view")
    ranked = [n for _, n in views.most_common()]
    top_tenth = sum(ranked[: max(1, len(ranked) // 10)])
    assert top_tenth > 0.3 * sum(ranked)


def test_funnel_narrows(behaviour_shop: Shop) -> None:
    n = behaviour_shop.report.events_by_type
    assert n["view"] > 4 * n["add_to_cart"] > 0
    assert n["add_to_cart"] > n["purchase"] > n["remove_from_cart"] > 0
    assert n["search"] >= n["search_click"] > 0


def test_clicks_favour_top_positions(events: list) -> None:
    shown: collections.Counter[int] = collections.Counter()
    clicked: collections.Counter[int] = collections.Counter()
    for _, e in events:
        if e["event_type"] == "search":
            shown.update(range(1, len(e["results"]) + 1))
        elif e["event_type"] == "search_click":
            clicked[e["position"]] += 1
    ctr = {p: clicked[p] / shown[p] for p in (1, 2, 5, 10)}
    assert ctr[1] > ctr[2] > ctr[5] > ctr[10]
    assert ctr[1] > 3 * ctr[5]
    assert sum(clicked.values()) < sum(1 for _, e in events if e["event_type"] == "search")


def test_queries_have_head_tail_typos_synonyms_and_chinese(events: list) -> None:
    queries = collections.Counter(e["query"] for _, e in events if e["event_type"] == "search")
    vocabulary = {w for leaf in LEAVES for w in (leaf.noun, *leaf.synonyms)}
    head = sum(n for _, n in queries.most_common(10))
    singletons = sum(1 for n in queries.values() if n == 1)
    assert head > 0.1 * sum(queries.values()) and singletons > 50
    assert any(q in vocabulary and q not in {leaf.noun for leaf in LEAVES} for q in queries)
    assert any(_is_chinese(q) for q in queries)
    nouns = {leaf.noun for leaf in LEAVES}
    typos = [q for q in queries if any(_one_edit(q, n) for n in nouns | vocabulary)]
    assert typos


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _one_edit(query: str, word: str) -> bool:
    """``query`` is ``word`` with one character dropped or two neighbours swapped."""
    if len(query) == len(word) - 1:
        return any(word[:i] + word[i + 1 :] == query for i in range(len(word)))
    if len(query) == len(word) and query != word:
        diff = [i for i in range(len(word)) if query[i] != word[i]]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and query[diff[0]] == word[diff[1]]
    return False


def test_some_purchases_follow_a_search_click(events: list) -> None:
    clicked = {
        (e["session_id"], e["item_id"]) for _, e in events if e["event_type"] == "search_click"
    }
    bought = [e for _, e in events if e["event_type"] == "purchase"]
    assert sum((e["session_id"], e["item_id"]) in clicked for e in bought) > 5


def test_consumables_are_bought_again(behaviour_shop: Shop, events: list, category: dict) -> None:
    days: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for date, e in events:
        if e["event_type"] == "purchase":
            days[(e["user_id"], e["item_id"])].add(date)
    repeats = [pair for pair, d in days.items() if len(d) >= 2]
    consumable = {leaf.path for leaf in LEAVES if leaf.consumable}
    assert len(repeats) > 50
    assert sum(category[item] in consumable for _, item in repeats) > 0.75 * len(repeats)
    staples = planted_staples(behaviour_shop.spec)
    assert sum(item in staples.get(user, []) for user, item in repeats) > 0.5 * len(repeats)


def test_catalog_grows_and_new_items_get_views(behaviour_shop: Shop, events: list) -> None:
    dates = behaviour_shop.dates()
    sizes = [len(behaviour_shop.catalog(d)) for d in dates]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
    assert sizes[-1] == behaviour_shop.spec.items
    last = behaviour_shop.catalog(dates[-1])
    new = {i for i, item in last.items() if item["added_date"] > dates[0]}
    assert sum(e["item_id"] in new for _, e in events if e["event_type"] == "view") > 50
    unavailable = [
        {i for i, x in behaviour_shop.catalog(d).items() if not x["available"]} for d in dates
    ]
    assert all(u for u in unavailable) and unavailable[0] != unavailable[-1]
    for day in behaviour_shop.manifest["days"]:
        assert day["catalog_unavailable"] == len(unavailable[dates.index(day["date"])])


def test_some_titles_mix_chinese_and_english(behaviour_shop: Shop) -> None:
    items = behaviour_shop.catalog(behaviour_shop.dates()[-1]).values()
    mixed = [i for i in items if _is_chinese(i["title"])]
    assert 0.03 * len(items) < len(mixed) < 0.25 * len(items)
    assert all(any(ch.isascii() and ch.isalpha() for ch in i["title"]) for i in mixed)


def test_activity_follows_local_hours(events: list) -> None:
    hours = collections.Counter(
        datetime.datetime.fromisoformat(e["timestamp"]).hour for _, e in events
    )
    evening = sum(hours[h] for h in (19, 20, 21))
    night = sum(hours[h] for h in (2, 3, 4))
    assert evening > 5 * night
