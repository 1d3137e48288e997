"""The ingest stage: each configured source's files for the run date -> bronze, as received.

Every line of a source's events file (and its catalog file, where the format has
one) becomes a bronze row with where it came from; nothing is cleaned here. A date's
partition of a source is replaced in one commit, so a rerun leaves the same rows.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.config import SourceConfig
from shoprec.errors import InputError
from shoprec.ingest.bronze import to_bronze
from shoprec.ingest.formats import get_format
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.runs import stage_run, utcnow


def _resolve(template: str, run_date: dt.date) -> str:
    return template.replace("{date}", run_date.isoformat())


def ingest_source(ctx: RunContext, source: SourceConfig, index: int = 0) -> dict[str, int]:
    """One source's files for the run date -> bronze. Returns rows written per table."""
    fmt = get_format(source.format)
    where = {S.INGEST_DATE: ctx.run_date, S.SOURCE: source.name}
    ingested_at = utcnow()
    written: dict[str, int] = {}
    plan = [("bronze.events", source.events, fmt.read_events, "events")]
    if source.catalog is not None and fmt.read_catalog is not None:
        plan.append(("bronze.catalog", source.catalog, fmt.read_catalog, "catalog"))
    for table_name, template, reader, key in plan:
        if template is None:
            raise InputError(f"sources[{index}].{key} ({source.name}): no path configured")
        try:
            raw = reader(ctx.spark, _resolve(template, ctx.run_date))
        except InputError as err:
            raise InputError(f"sources[{index}].{key} ({source.name}): {err}") from None
        if fmt.events_have_day and table_name == "bronze.events":
            raw = raw.where(F.col("_day") == F.lit(ctx.run_date)).drop("_day")
        rows = to_bronze(
            raw,
            source=source.name,
            source_format=source.format,
            run_id=ctx.run_id,
            ingest_date=ctx.run_date,
            ingested_at=ingested_at,
        )
        written[table_name] = ctx.lake.replace(rows, table_name, where=where)
    return written


def ingest(ctx: RunContext, sources: list[SourceConfig] | None = None) -> StageReport:
    """Every configured source (or those given) for the run date into bronze."""
    chosen = ctx.settings.sources if sources is None else sources
    if not chosen:
        raise InputError("sources: no source configured (add one under sources: in the config)")
    report = StageReport("ingest", ctx.run_date)
    # sources may be ingested by tasks of their own: each holds the lock of its sources
    scope = "" if sources is None else ",".join(s.name for s in chosen)
    with stage_run(ctx, "ingest", scope=scope) as rec:
        for i, source in enumerate(chosen):
            for table_name, rows in ingest_source(ctx, source, i).items():
                report.tables[table_name] = report.tables.get(table_name, 0) + rows
        rec.rows_out = report.tables.get("bronze.events", 0)
    return report
