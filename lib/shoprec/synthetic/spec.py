"""The generation spec: what shop to simulate, validated on construction."""

from __future__ import annotations

import datetime
import math
from dataclasses import asdict, dataclass
from typing import Any

from shoprec.errors import ShoprecError


class SpecError(ShoprecError, ValueError):
    """A :class:`ShopSpec` field is out of range; the message names the field."""


@dataclass(frozen=True)
class ShopSpec:
    """Size, randomness and realism knobs of one synthetic shop.

    Every field is validated when the spec is built; a bad value raises
    :class:`SpecError` (a ``ValueError``) naming the field.
    """

    users: int = 2000
    items: int = 500  # catalog size on the last day
    days: int = 7
    seed: int = 42
    start_date: datetime.date = datetime.date(2026, 11, 1)
    dirty_rate: float = 0.0  # dirty records injected per clean event, 0..1
    sessions_per_user_per_day: float = 0.6
    new_item_fraction: float = 0.1  # share of ``items`` added after the first day
    search_session_rate: float = 0.35  # share of browsing sessions that start with a search
    chinese_title_rate: float = 0.1  # share of items with a mixed Chinese/English title
    bot_users: int = 3  # bots per day, only when dirty_rate > 0
    bot_events_per_day: int = 2000  # mean events of one bot in one day
    currency: str = "USD"

    def __post_init__(self) -> None:
        """Reject out-of-range fields early."""
        _check_int(self.users, "users", low=1)
        _check_int(self.items, "items", low=1)
        _check_int(self.days, "days", low=1, high=3660)
        _check_int(self.seed, "seed", low=0)
        _check_int(self.bot_users, "bot_users", low=0, high=1000)
        _check_int(self.bot_events_per_day, "bot_events_per_day", low=0, high=10_000_000)
        _check_float(self.dirty_rate, "dirty_rate", low=0.0, high=1.0)
        _check_float(self.new_item_fraction, "new_item_fraction", low=0.0, high=0.9)
        _check_float(self.search_session_rate, "search_session_rate", low=0.0, high=1.0)
        _check_float(self.chinese_title_rate, "chinese_title_rate", low=0.0, high=1.0)
        _check_float(self.sessions_per_user_per_day, "sessions_per_user_per_day", high=1000.0)
        if self.sessions_per_user_per_day <= 0:
            raise SpecError(
                f"sessions_per_user_per_day must be > 0, got {self.sessions_per_user_per_day}"
            )
        if type(self.start_date) is not datetime.date:
            raise SpecError(f"start_date must be a datetime.date, got {self.start_date!r}")
        if not (len(self.currency) == 3 and self.currency.isalpha() and self.currency.isupper()):
            raise SpecError(f"currency must be a 3-letter upper-case code, got {self.currency!r}")

    def date(self, day: int) -> datetime.date:
        """The calendar date of day index ``day`` (0-based)."""
        return self.start_date + datetime.timedelta(days=day)

    def to_json_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready values (dates as ISO strings)."""
        data = asdict(self)
        data["start_date"] = self.start_date.isoformat()
        return data


def _check_int(value: object, name: str, low: int, high: int | None = None) -> None:
    """Raise SpecError unless ``value`` is an int in ``low..high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{name} must be an int, got {value!r}")
    if value < low:
        bound = "> 0" if low == 1 else f">= {low}"
        raise SpecError(f"{name} must be {bound}, got {value}")
    if high is not None and value > high:
        raise SpecError(f"{name} must be <= {high}, got {value}")


def _check_float(value: object, name: str, low: float = 0.0, high: float = 1.0) -> None:
    """Raise SpecError unless ``value`` is a finite number in ``low..high``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise SpecError(f"{name} must be between {low} and {high}, got {value}")
