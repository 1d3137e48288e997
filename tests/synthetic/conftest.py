"""Shops for the synthetic generator tests, generated once per test session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shoprec.synthetic import GenerationReport, ShopSpec, generate_shop

CLEAN_SPEC = ShopSpec(users=400, items=150, days=3, seed=7)
DIRTY_SPEC = ShopSpec(
    users=400, items=150, days=3, seed=7, dirty_rate=0.05, bot_users=3, bot_events_per_day=1500
)
BEHAVIOUR_SPEC = ShopSpec(users=1500, items=300, days=5, seed=11)


@dataclass(frozen=True)
class Shop:
    """A generated shop on disk and its parsed manifest."""

    spec: ShopSpec
    root: Path
    report: GenerationReport
    manifest: dict[str, Any]

    def dates(self) -> list[str]:
        """The ISO dates of the run."""
        return [d["date"] for d in self.manifest["days"]]

    def event_lines(self, date: str) -> list[str]:
        """Raw lines of one day's event file (newline kept)."""
        path = self.root / f"events/date={date}/events.jsonl"
        return path.read_text(encoding="utf-8").splitlines(keepends=True)

    def events(self, date: str) -> list[dict[str, Any]]:
        """Parsed events of one day (clean shops only)."""
        return [json.loads(line) for line in self.event_lines(date)]

    def all_events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(date, event) for every event of the run."""
        for date in self.dates():
            for event in self.events(date):
                yield date, event

    def catalog(self, date: str) -> dict[str, dict[str, Any]]:
        """One day's catalog snapshot by item id."""
        path = self.root / f"catalog/date={date}/catalog.jsonl"
        items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return {item["item_id"]: item for item in items}


def make_shop(spec: ShopSpec, root: Path) -> Shop:
    """Generate ``spec`` under ``root``."""
    report = generate_shop(spec, root)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    return Shop(spec, root, report, manifest)


@pytest.fixture(scope="session")
def clean_shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """A small shop without dirty records."""
    return make_shop(CLEAN_SPEC, tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="session")
def dirty_shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """The same shop with dirty records and bots."""
    return make_shop(DIRTY_SPEC, tmp_path_factory.mktemp("dirty"))


@pytest.fixture(scope="session")
def behaviour_shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """A somewhat larger clean shop for statistical checks."""
    return make_shop(BEHAVIOUR_SPEC, tmp_path_factory.mktemp("behaviour"))
