"""The run summary a person reads after a demo or a nightly run."""

from __future__ import annotations

from collections import Counter

from shoprec.lake import Lake
from shoprec.schemas import TABLES
from shoprec.stages.nightly import NightReport


def table_counts(lake: Lake) -> dict[str, int]:
    """Current row count of every lake table that exists."""
    return {name: lake.read(name).count() for name in TABLES if lake.exists(name)}


def render(lake: Lake, nights: list[NightReport]) -> str:
    """Tables and row counts, quarantine by reason, validation results, data docs."""
    lines = [f"lake: {lake.root}", "", "tables (rows now):"]
    for name, rows in table_counts(lake).items():
        lines.append(f"  {name:<24} {rows:>12,}")
    reasons: Counter[str] = Counter()
    docs = None
    lines += ["", "per date:"]
    for night in nights:
        for rep in night.stages:
            reasons.update(rep.quarantined_by_reason)
            docs = rep.data_docs or docs
            if rep.stage == "validate":
                c = rep.counts
                status = ", ".join(f"{v['suite']}={v['status']}" for v in rep.validations)
                lines.append(
                    f"  {night.run_date}  received {c.get('received_events', 0):,}  "
                    f"accepted {c.get('accepted_events', 0):,}  "
                    f"quarantined {c.get('quarantined_events', 0):,}  "
                    f"duplicates {c.get('duplicate_events', 0):,}"
                )
                lines.append(f"              validation: {status}")
    for night in nights:
        for rep in night.stages:
            if rep.stage != "validate" and rep.notes:
                lines.append(f"  {night.run_date}  {rep.stage}:")
                lines += [f"      {line}" for note in rep.notes for line in note.splitlines()]
    lines += ["", "quarantined rows by reason:"]
    for reason, n in reasons.most_common() or [("(none)", 0)]:
        lines.append(f"  {reason:<24} {n:>12,}")
    lines += ["", f"validation results: {lake.file_path('_quality', 'results')}/<date>/*.json"]
    lines.append(f"great expectations data docs: {docs or '(not built)'}")
    return "\n".join(lines)
