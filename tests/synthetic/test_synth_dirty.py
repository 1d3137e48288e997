"""Dirty records: every kind appears, each line is classifiable, and counts reconcile."""

from __future__ import annotations

import collections
import datetime
import json
from typing import TYPE_CHECKING, Any

from shoprec.synthetic import DIRTY_KIND_NAMES, EVENT_TYPES, MANIFEST_DIRTY_KINDS

if TYPE_CHECKING:
    from conftest import Shop

CLEAN = "clean"


def classify(line: str, seen_lines: set[str], seen_ids: set[str], ctx: dict[str, Any]) -> str:
    """Which dirty kind a line is (or "clean"), judged only from the files."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return "broken_json"
    if line in seen_lines:
        return "duplicate_line"
    seen_lines.add(line)
    kind = _field_kind(event, ctx)
    if kind == CLEAN and event["event_id"] in seen_ids:
        return "duplicate_event_id"
    if event["event_id"] is not None:
        seen_ids.add(event["event_id"])
    return kind


def _field_kind(event: dict[str, Any], ctx: dict[str, Any]) -> str:
    for key in ("event_id", "user_id", "event_type", "timestamp"):
        if event[key] is None:
            return f"null_{key}"
    if event["event_type"] not in EVENT_TYPES:
        return "unknown_event_type"
    try:
        ts = datetime.datetime.fromisoformat(event["timestamp"])
    except ValueError:
        return "malformed_timestamp"
    if ts.astimezone(datetime.UTC).date() > ctx["date"]:
        return "future_timestamp"
    if isinstance(event["price"], str):
        return "wrong_type_price"
    if isinstance(event["quantity"], str):
        return "wrong_type_quantity"
    if event["price"] is not None and event["price"] < 0:
        return "negative_price"
    if event["quantity"] is not None and event["quantity"] <= 0:
        return "bad_quantity"
    if event["item_id"] is not None and event["item_id"] not in ctx["catalog"]:
        return "unknown_item"
    if event["user_id"] in ctx["bots"]:
        return "bot_events"
    return CLEAN


def _classified(shop: Shop, date: str) -> list[tuple[str, str]]:
    ctx = {
        "date": datetime.date.fromisoformat(date),
        "catalog": shop.catalog(date),
        "bots": set(shop.manifest["bot_user_ids"]),
    }
    seen_lines: set[str] = set()
    seen_ids: set[str] = set()
    return [(classify(x, seen_lines, seen_ids, ctx), x) for x in shop.event_lines(date)]


def test_every_kind_is_injected_and_counted(dirty_shop: Shop) -> None:
    for day in dirty_shop.manifest["days"]:
        kinds = collections.Counter(kind for kind, _ in _classified(dirty_shop, day["date"]))
        assert all(day["dirty"][k] >= 1 for k in MANIFEST_DIRTY_KINDS), day["dirty"]
        assert {k: kinds[k] for k in MANIFEST_DIRTY_KINDS} == day["dirty"]
        assert kinds[CLEAN] == day["events"]
        assert day["lines"] == day["events"] + day["dirty_lines"] == sum(kinds.values())
        assert day["dirty_lines"] == sum(day["dirty"].values())


def test_dirty_rate_sets_the_amount(dirty_shop: Shop) -> None:
    for day in dirty_shop.manifest["days"]:
        injected = sum(day["dirty"][k] for k in DIRTY_KIND_NAMES)
        expected = dirty_shop.spec.dirty_rate * day["events"]
        assert expected - len(DIRTY_KIND_NAMES) <= injected <= expected + len(DIRTY_KIND_NAMES)


def test_clean_events_do_not_depend_on_dirty_rate(clean_shop: Shop, dirty_shop: Shop) -> None:
    assert clean_shop.spec.seed == dirty_shop.spec.seed
    for date in clean_shop.dates():
        kept = [line for kind, line in _classified(dirty_shop, date) if kind == CLEAN]
        assert kept == clean_shop.event_lines(date)


def test_duplicates_follow_their_original(dirty_shop: Shop) -> None:
    date = dirty_shop.dates()[0]
    first_seen: dict[str, dict[str, Any]] = {}
    for kind, line in _classified(dirty_shop, date):
        if kind == "broken_json":
            continue
        event = json.loads(line)
        if kind == "duplicate_event_id":
            original = first_seen[event["event_id"]]
            parse = datetime.datetime.fromisoformat
            assert parse(event["timestamp"]) > parse(original["timestamp"])
            assert {k: v for k, v in event.items() if k != "timestamp"} == {
                k: v for k, v in original.items() if k != "timestamp"
            }
        elif event["event_id"] is not None:
            first_seen.setdefault(event["event_id"], event)


def test_bots_are_heavy_and_some_say_so(dirty_shop: Shop) -> None:
    bots = dirty_shop.manifest["bot_user_ids"]
    assert len(bots) == dirty_shop.spec.bot_users
    date = dirty_shop.dates()[0]
    per_user: collections.Counter[str] = collections.Counter()
    agents: dict[str, str] = {}
    for kind, line in _classified(dirty_shop, date):
        if kind in (CLEAN, "bot_events"):
            event = json.loads(line)
            per_user[event["user_id"]] += 1
            agents[event["user_id"]] = event["user_agent"]
    human_max = max(n for user, n in per_user.items() if user not in bots)
    assert all(per_user[b] > 20 * human_max for b in bots)
    assert any("Googlebot" in agents[b] or "bingbot" in agents[b] for b in bots)
    assert any("bot" not in agents[b].lower() for b in bots)


def test_malformed_values_look_plausibly_wrong(dirty_shop: Shop) -> None:
    date = dirty_shop.dates()[0]
    rows = [
        (k, json.loads(line)) for k, line in _classified(dirty_shop, date) if k != "broken_json"
    ]
    prices = {e["price"] for k, e in rows if k == "wrong_type_price"}
    quantities = {e["quantity"] for k, e in rows if k == "wrong_type_quantity"}
    assert all(isinstance(p, str) for p in prices) and all(isinstance(q, str) for q in quantities)
    unknown = {e["event_type"] for k, e in rows if k == "unknown_event_type"}
    assert unknown and not unknown & set(EVENT_TYPES)
