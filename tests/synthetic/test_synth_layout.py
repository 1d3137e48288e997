"""Output layout, manifest reconciliation, event and catalog formats, determinism."""

from __future__ import annotations

import collections
import datetime
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from shoprec.synthetic import (
    EVENT_KEYS,
    EVENT_TYPES,
    MANIFEST_DIRTY_KINDS,
    OutputExistsError,
    ShopSpec,
    generate_shop,
)

if TYPE_CHECKING:
    from conftest import Shop

HEX32 = re.compile(r"^[0-9a-f]{32}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
PRICED = {"view", "add_to_cart", "remove_from_cart", "purchase"}
COUNTED = {"add_to_cart", "remove_from_cart", "purchase"}
ITEM_TYPES = PRICED | {"search_click"}
QUERY_TYPES = {"search", "search_click"}


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_layout(clean_shop: Shop) -> None:
    files = set(_files(clean_shop.root))
    expected = {"manifest.json"}
    for day in range(clean_shop.spec.days):
        date = clean_shop.spec.date(day).isoformat()
        expected |= {f"events/date={date}/events.jsonl", f"catalog/date={date}/catalog.jsonl"}
    assert files == expected


def test_manifest_matches_files(clean_shop: Shop) -> None:
    manifest = clean_shop.manifest
    assert manifest["spec"] == clean_shop.spec.to_json_dict()
    assert manifest["event_keys"] == list(EVENT_KEYS)
    assert manifest["bot_user_ids"] == []
    for day in manifest["days"]:
        events = clean_shop.events(day["date"])
        counts = collections.Counter(e["event_type"] for e in events)
        assert day["events_by_type"] == {t: counts[t] for t in EVENT_TYPES}
        assert day["lines"] == day["events"] == len(events)
        assert day["dirty"] == dict.fromkeys(MANIFEST_DIRTY_KINDS, 0)
        assert day["dirty_lines"] == 0
        assert day["sessions"] == len({e["session_id"] for e in events})
        assert day["active_users"] == len({e["user_id"] for e in events})
        assert day["catalog_items"] == len(clean_shop.catalog(day["date"]))
    totals = manifest["totals"]
    assert totals["events"] == clean_shop.report.events_written == clean_shop.report.lines_written
    assert totals["events_by_type"] == clean_shop.report.events_by_type
    assert clean_shop.report.dirty_written == 0


def test_every_event_is_valid(clean_shop: Shop) -> None:
    ids: set[str] = set()
    offsets: set[str] = set()
    for date in clean_shop.dates():
        catalog = clean_shop.catalog(date)
        day_start = datetime.datetime.fromisoformat(date).replace(tzinfo=datetime.UTC)
        for event in clean_shop.events(date):
            assert list(event) == list(EVENT_KEYS)
            _check_event(event, catalog, day_start)
            ids.add(event["event_id"])
            offsets.add(event["timestamp"][-6:])
    assert len(ids) == clean_shop.report.events_written  # event ids are unique
    assert len(offsets) >= 4  # users live in several time zones


def _check_event(event: dict, catalog: dict, day_start: datetime.datetime) -> None:
    etype = event["event_type"]
    assert etype in EVENT_TYPES
    assert HEX32.match(event["event_id"])
    assert re.match(r"^u\d{6}$", event["user_id"])
    assert isinstance(event["session_id"], str) and event["session_id"]
    assert TIMESTAMP.match(event["timestamp"])
    ts = datetime.datetime.fromisoformat(event["timestamp"])
    assert day_start <= ts < day_start + datetime.timedelta(days=1)  # inside the file's UTC day
    assert (event["item_id"] in catalog) == (etype in ITEM_TYPES)
    if etype in PRICED:
        assert event["price"] == catalog[event["item_id"]]["price"] > 0
        assert event["currency"] == "USD"
    else:
        assert event["price"] is None and event["currency"] is None
    if etype in COUNTED:
        assert isinstance(event["quantity"], int) and event["quantity"] >= 1
    else:
        assert event["quantity"] is None
    assert isinstance(event["query"], str) == (etype in QUERY_TYPES)
    if etype == "search":
        assert 1 <= len(event["results"]) <= 20
        assert all(item in catalog for item in event["results"])
        assert len(set(event["results"])) == len(event["results"])
    else:
        assert event["results"] is None
    assert (event["search_id"] is not None) == (etype == "search_click")
    assert (event["position"] is not None) == (etype == "search_click")
    assert "@" in event["email"] and event["ip"].count(".") == 3 and event["user_agent"]


def test_sessions_are_coherent(clean_shop: Shop) -> None:
    for date in clean_shop.dates():
        sessions: dict[str, list[dict]] = collections.defaultdict(list)
        for event in clean_shop.events(date):
            sessions[event["session_id"]].append(event)
        for events in sessions.values():
            assert len({e["user_id"] for e in events}) == 1
            times = [datetime.datetime.fromisoformat(e["timestamp"]) for e in events]
            assert times == sorted(times) and len(set(times)) == len(times)
            carted = {e["item_id"] for e in events if e["event_type"] == "add_to_cart"}
            for e in events:
                if e["event_type"] in ("remove_from_cart", "purchase"):
                    assert e["item_id"] in carted


def test_search_clicks_point_at_their_search(clean_shop: Shop) -> None:
    clicks = 0
    for date in clean_shop.dates():
        events = clean_shop.events(date)
        searches = {e["event_id"]: e for e in events if e["event_type"] == "search"}
        for click in (e for e in events if e["event_type"] == "search_click"):
            search = searches[click["search_id"]]
            assert search["session_id"] == click["session_id"]
            assert search["query"] == click["query"]
            assert search["results"][click["position"] - 1] == click["item_id"]
            parse = datetime.datetime.fromisoformat
            assert parse(search["timestamp"]) < parse(click["timestamp"])
            clicks += 1
    assert clicks > 0


def test_catalog_format(clean_shop: Shop) -> None:
    keys = [
        "item_id",
        "title",
        "description",
        "category_path",
        "brand",
        "price",
        "currency",
        "available",
        "added_date",
    ]
    for date in clean_shop.dates():
        for item in clean_shop.catalog(date).values():
            assert list(item) == keys
            assert re.match(r"^i\d{5}$", item["item_id"])
            assert item["category_path"].count("/") == 2
            assert isinstance(item["price"], float) and item["price"] > 0
            assert isinstance(item["available"], bool)
            assert item["added_date"] <= date
            assert item["title"] and item["description"] and item["brand"]


def test_same_spec_gives_identical_bytes(tmp_path: Path) -> None:
    spec = ShopSpec(users=120, items=60, days=2, dirty_rate=0.1, bot_events_per_day=50)
    generate_shop(spec, tmp_path / "a")
    generate_shop(spec, tmp_path / "b")
    generate_shop(ShopSpec(**{**spec.__dict__, "seed": spec.seed + 1}), tmp_path / "c")
    a, b, c = (_files(tmp_path / x) for x in "abc")
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_existing_output_is_kept_unless_overwrite(tmp_path: Path) -> None:
    spec = ShopSpec(users=20, items=40, days=1)
    generate_shop(spec, tmp_path)
    with pytest.raises(OutputExistsError, match="overwrite"):
        generate_shop(spec, tmp_path)
    (tmp_path / "events/date=2099-01-01").mkdir()  # stale output disappears on overwrite
    report = generate_shop(spec, tmp_path, overwrite=True)
    assert not (tmp_path / "events/date=2099-01-01").exists()
    assert report.manifest_path == tmp_path / "manifest.json"


def test_manifest_is_plain_json(clean_shop: Shop) -> None:
    text = (clean_shop.root / "manifest.json").read_text(encoding="utf-8")
    assert json.loads(text)["format_version"] == 1
