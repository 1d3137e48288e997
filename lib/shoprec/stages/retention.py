"""The retention stage: raw records past ``retention.raw_days`` lose their payload.

bronze.events, bronze.catalog and silver.quarantine keep each record as received
(``record``, personal data included). On the night of D, every partition of theirs
ingested before D - ``raw_days`` (:func:`~shoprec.retention.raw_cutoff`) has its
``record`` set to null, one commit per table; the rows stay, with their ids, source,
ingest stamps and quarantine reasons. VACUUM then deletes the files that commits
replaced more than ``retention.vacuum_hours`` ago, so the payloads cleared tonight
leave storage that many hours later. Partitions from the cutoff on are never touched,
and a rerun for the same date finds nothing left to clear. The files of erasure
requests (``shoprec forget``) whose wait has passed are vacuumed here too.

The run record says what went: ``rows_out`` the rows whose payload was dropped, the
message the cutoff and the dates and rows per table.
"""

from __future__ import annotations

from shoprec import schemas as S
from shoprec.retention import RAW_TABLES, held_past_retention, raw_cutoff
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.forget import vacuum_erasures
from shoprec.stages.runs import stage_run, utcnow


def retention(ctx: RunContext) -> StageReport:
    """Drop the raw payload of partitions past retention, then VACUUM the raw tables."""
    report = StageReport("retention", ctx.run_date)
    lake, day, cfg = ctx.lake, ctx.run_date, ctx.settings.retention
    cutoff = raw_cutoff(day, raw_days=cfg.raw_days)
    with stage_run(ctx, "retention") as rec:
        # Read first: which dates past the cutoff still hold raw records. It reads only
        # partitions before the cutoff, and of those the cleared ones are all null.
        held = {
            name: held_past_retention(
                lake.read(name), run_date=day, raw_days=cfg.raw_days
            ).collect()
            for name in RAW_TABLES
        }
        parts = []
        for name in RAW_TABLES:
            dates = sorted(r[S.INGEST_DATE] for r in held[name])
            cleared = (
                lake.clear_column(name, S.RECORD, partition=S.INGEST_DATE, before=cutoff)
                if dates
                else 0
            )
            report.tables[name] = cleared
            if dates:
                span = str(dates[0]) if len(dates) == 1 else f"{dates[0]}..{dates[-1]}"
                parts.append(f"{name} {cleared:,} rows ({len(dates)} dates, {span})")
        for name in RAW_TABLES:  # only where a commit removed files (a clear, a rerun)
            lake.vacuum(name, retain_hours=cfg.vacuum_hours, only_if_due=True)
        # erasure requests (shoprec forget) whose files may go now
        erased = vacuum_erasures(lake, now=utcnow())
        rec.rows_out = sum(report.tables.values())
        report.counts = {
            "rows_cleared": rec.rows_out,
            "dates_cleared": len({r[S.INGEST_DATE] for rows in held.values() for r in rows}),
        }
        what = "; ".join(parts) if parts else "nothing left to clear"
        rec.message = (
            f"raw records ingested before {cutoff}: {what}; "
            f"files replaced over {cfg.vacuum_hours} h ago vacuumed"
            + (f"; files of erasures {', '.join(erased)} vacuumed" if erased else "")
        )
        if parts:
            report.note(rec.message)
    return report
