from __future__ import annotations

import datetime as dt

import pytest

from shoprec.dates import date_range, parse_run_date
from shoprec.errors import InputError


def test_parse_run_date() -> None:
    assert parse_run_date("2026-11-01") == dt.date(2026, 11, 1)


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "", "2026/11/01"])
def test_bad_dates(bad: str) -> None:
    with pytest.raises(InputError, match="bad date"):
        parse_run_date(bad)


def test_date_range() -> None:
    assert date_range(dt.date(2026, 12, 31), 2) == [dt.date(2026, 12, 31), dt.date(2027, 1, 1)]
