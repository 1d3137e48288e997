"""The champion gate: tonight's model serves only if it is not worse than the champion.

Both are measured on the same split with the same metric code (the evaluate stage
scores the champion's model and settings on tonight's time split); the decision and
its numbers go to ``ops.metrics`` (protocol ``champion_gate``) and to the run summary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from shoprec import schemas as S

PROTOCOL = "champion_gate"


@dataclass(frozen=True)
class GateDecision:
    """Whether the challenger replaces the champion, and the numbers behind it."""

    metric: str
    tolerance: float
    challenger: str  # model name
    challenger_value: float
    champion: str | None  # model name; None before the first promotion
    champion_value: float | None
    champion_version: str | None
    promoted: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GateDecision:
        return cls(**d)

    def summary(self) -> str:
        """One line for the run summary."""
        verdict = "promoted" if self.promoted else "champion kept"
        return f"champion gate: {verdict}: {self.reason}"


def decide(
    *,
    metric: str,
    tolerance: float,
    challenger: str,
    challenger_value: float,
    champion: str | None,
    champion_value: float | None,
    champion_version: str | None = None,
) -> GateDecision:
    """Promote unless the challenger is worse than the champion by more than ``tolerance``.

    No champion yet, or a champion that could not be measured on tonight's split
    (``champion_value`` None), promotes the challenger. A NaN challenger (no test
    users) never beats a measured champion.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if champion is None or champion_value is None:
        promoted = True
        reason = f"no champion to compare with; {challenger} {metric}={challenger_value:.4f}"
    else:
        promoted = challenger_value == challenger_value and (
            challenger_value >= champion_value - tolerance
        )
        op = ">=" if promoted else "<"
        reason = (
            f"{challenger} {metric}={challenger_value:.4f} {op} champion {champion} "
            f"(v{champion_version}) {champion_value:.4f} - tolerance {tolerance:g}"
        )
    return GateDecision(
        metric=metric,
        tolerance=tolerance,
        challenger=challenger,
        challenger_value=challenger_value,
        champion=champion,
        champion_value=champion_value,
        champion_version=champion_version,
        promoted=promoted,
        reason=reason,
    )


def gate_rows(
    decision: GateDecision,
    *,
    model_version: str | None,
    run_id: str,
    run_date: dt.date,
    recorded_at: dt.datetime,
) -> list[dict[str, Any]]:
    """``ops.metrics`` rows for a decision: both values, the tolerance, promoted as 1/0."""
    values = {
        f"challenger_{decision.metric}": decision.challenger_value,
        "tolerance": decision.tolerance,
        "promoted": 1.0 if decision.promoted else 0.0,
    }
    if decision.champion_value is not None:
        values[f"champion_{decision.metric}"] = decision.champion_value
    return [
        {
            S.RUN_ID: run_id,
            "run_date": run_date,
            S.MODEL_NAME: decision.challenger,
            S.MODEL_VERSION: model_version,
            "protocol": PROTOCOL,
            "segment": "all",
            "metric": metric,
            "value": float(value),
            "recorded_at": recorded_at,
        }
        for metric, value in values.items()
        if value == value
    ]
