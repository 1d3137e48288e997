"""Run dates: the one calendar day a nightly run is about."""

from __future__ import annotations

import datetime as dt

from shoprec.errors import InputError


def parse_run_date(value: str) -> dt.date:
    """Parse ``YYYY-MM-DD`` into a date, or raise a one-line :class:`InputError`.

    >>> parse_run_date("2026-11-01")
    datetime.date(2026, 11, 1)
    """
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError(f"bad date {value!r}: expected YYYY-MM-DD") from None


def date_range(start: dt.date, days: int) -> list[dt.date]:
    """``days`` consecutive dates starting at ``start``."""
    return [start + dt.timedelta(days=i) for i in range(days)]
