"""The champion gate's decision rule and its ops.metrics rows."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from shoprec.evaluation.gate import GateDecision, decide, gate_rows


def _decide(challenger: float, champion: float | None, tolerance: float = 0.0) -> GateDecision:
    return decide(
        metric="ndcg@20",
        tolerance=tolerance,
        challenger="ease",
        challenger_value=challenger,
        champion=None if champion is None else "als",
        champion_value=champion,
        champion_version=None if champion is None else "3",
    )


def test_no_champion_promotes() -> None:
    assert _decide(0.1, None).promoted


@pytest.mark.parametrize(
    ("challenger", "champion", "tolerance", "promoted"),
    [
        (0.30, 0.30, 0.0, True),  # a tie is "not worse"
        (0.29, 0.30, 0.0, False),
        (0.29, 0.30, 0.02, True),  # within tolerance
        (0.27, 0.30, 0.02, False),
        (math.nan, 0.30, 0.5, False),  # no test users never beats a measured champion
    ],
)
def test_not_worse_than_champion(
    challenger: float, champion: float, tolerance: float, promoted: bool
) -> None:
    d = _decide(challenger, champion, tolerance)
    assert d.promoted is promoted
    assert ("promoted" if promoted else "champion kept") in d.summary()


def test_negative_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        _decide(0.1, 0.2, -0.1)


def test_round_trip_and_rows() -> None:
    d = _decide(0.2, 0.25, 0.1)
    assert GateDecision.from_dict(d.as_dict()) == d
    rows = gate_rows(
        d,
        model_version="7",
        run_id="r1",
        run_date=dt.date(2026, 11, 3),
        recorded_at=dt.datetime(2026, 11, 4),
    )
    by_metric = {r["metric"]: r["value"] for r in rows}
    assert by_metric == {
        "challenger_ndcg@20": 0.2,
        "champion_ndcg@20": 0.25,
        "tolerance": 0.1,
        "promoted": 1.0,
    }
    assert {r["protocol"] for r in rows} == {"champion_gate"}
