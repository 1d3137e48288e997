"""ShopSpec validation."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from shoprec.errors import ShoprecError
from shoprec.synthetic import ShopSpec, SpecError, benchmark, generate_shop, spec_for_events


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("users", 0, "users must be > 0, got 0"),
        ("users", -5, "users must be > 0, got -5"),
        ("users", 1.5, "users must be an int, got 1.5"),
        ("users", True, "users must be an int, got True"),
        ("items", 0, "items must be > 0, got 0"),
        ("days", 0, "days must be > 0, got 0"),
        ("seed", -1, "seed must be >= 0, got -1"),
        ("dirty_rate", 1.5, "dirty_rate must be between 0.0 and 1.0, got 1.5"),
        ("dirty_rate", -0.1, "dirty_rate must be between 0.0 and 1.0, got -0.1"),
        ("dirty_rate", float("nan"), "dirty_rate must be between 0.0 and 1.0, got nan"),
        ("dirty_rate", "0.1", "dirty_rate must be a number, got '0.1'"),
        ("sessions_per_user_per_day", 0, "sessions_per_user_per_day must be > 0, got 0"),
        ("new_item_fraction", 0.95, "new_item_fraction must be between 0.0 and 0.9, got 0.95"),
        ("bot_users", -1, "bot_users must be >= 0, got -1"),
        ("start_date", "2026-11-01", "start_date must be a datetime.date, got '2026-11-01'"),
        ("start_date", datetime.datetime(2026, 11, 1), "start_date must be a datetime.date"),
        ("currency", "usd", "currency must be a 3-letter upper-case code, got 'usd'"),
    ],
)
def test_invalid_field_is_named(field: str, value: Any, message: str) -> None:
    with pytest.raises(SpecError) as err:
        ShopSpec(**{field: value})
    assert str(err.value).startswith(message)


def test_spec_error_is_a_value_error_and_a_user_error() -> None:
    with pytest.raises(ValueError, match="users"):
        ShopSpec(users=0)
    assert issubclass(SpecError, ShoprecError)


def test_defaults_are_valid_and_serialisable() -> None:
    spec = ShopSpec()
    data = spec.to_json_dict()
    assert data["start_date"] == "2026-11-01"
    assert ShopSpec(**{**data, "start_date": spec.start_date}) == spec
    assert spec.date(2) == datetime.date(2026, 11, 3)


@pytest.mark.parametrize(
    "spec",
    [
        ShopSpec(users=1, items=1, days=2, dirty_rate=1.0, bot_users=1, bot_events_per_day=5),
        ShopSpec(users=30, items=5, days=3, new_item_fraction=0.5),  # fewer items than leaves
        ShopSpec(users=10, items=40, days=1, sessions_per_user_per_day=20.0),
        ShopSpec(users=50, items=40, days=2, new_item_fraction=0.0, search_session_rate=1.0),
        ShopSpec(users=50, items=40, days=2, dirty_rate=0.3, bot_users=0),
    ],
    ids=["one-of-everything", "tiny-catalog", "heavy-users", "all-search", "no-bots"],
)
def test_edge_specs_generate_consistent_data(spec: ShopSpec, tmp_path: Path) -> None:
    report = generate_shop(spec, tmp_path)
    manifest = json.loads(report.manifest_path.read_text(encoding="utf-8"))
    assert report.days == spec.days and report.catalog_items == spec.items
    for day in manifest["days"]:
        lines = (tmp_path / day["events_path"]).read_text(encoding="utf-8").splitlines()
        assert len(lines) == day["lines"] == day["events"] + day["dirty_lines"]
        catalog = (tmp_path / day["catalog_path"]).read_text(encoding="utf-8").splitlines()
        ids = {json.loads(line)["item_id"] for line in catalog}
        if spec.dirty_rate == 0:
            events = [json.loads(line) for line in lines]
            assert all(e["item_id"] is None or e["item_id"] in ids for e in events)


def test_benchmark_helper_reports_speed() -> None:
    result = benchmark(spec_for_events(5_000, days=2))
    assert 2_500 < result.events < 10_000
    assert result.seconds > 0 and result.peak_rss_mb > 0 and result.bytes_written > 0
    assert "events/s" in result.summary()
