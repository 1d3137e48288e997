"""Stage runs: each under its lock, with one ops.runs row written whatever the outcome
(and one for a run killed before it could write its own, by the run that takes over)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from shoprec import faults
from shoprec.locks import LockHeld, hold
from shoprec.stages.context import RunContext

log = logging.getLogger(__name__)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_run_id(run_date: dt.date) -> str:
    """``<date>-<utc time>-<6 hex>``: sortable and unique per run."""
    return f"{run_date:%Y%m%d}-{utcnow():%H%M%S}-{uuid.uuid4().hex[:6]}"


@dataclass
class RunRecord:
    """What one stage did for one date (the columns of ops.runs)."""

    run_id: str
    run_date: dt.date
    stage: str
    status: str = "running"
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    rows_quarantined: int | None = None
    rows_duplicate: int | None = None
    validation: str | None = None
    model_version: str | None = None
    message: str | None = None


@contextmanager
def stage_run(ctx: RunContext, stage: str, *, scope: str = "") -> Iterator[RunRecord]:
    """Run a stage under its lock, time it, and append its record to ops.runs, failed or not.

    The lock (:mod:`shoprec.locks`) is per lake, stage and date: a second run of the
    same stage and date while this one lives is refused with a line naming this one
    (its record says ``refused``). ``scope`` narrows it where tasks of one stage run
    side by side on purpose (the DAG's train groups, one ``--models`` list each).

    Example::

        with stage_run(ctx, "ingest") as rec:
            rec.rows_out = write_bronze(...)
    """
    day = ctx.run_date
    rec = RunRecord(run_id=ctx.run_id, run_date=day, stage=stage, started_at=utcnow())
    name = f"{stage}[{scope}]" if scope else stage
    try:
        with hold(
            ctx.lake,
            f"{name}/{day.isoformat()}",
            run_id=ctx.run_id,
            ttl_seconds=ctx.settings.locks.ttl_seconds,
            enabled=ctx.settings.locks.enabled,
            what=f"{name} {day}",
        ) as lease:
            if lease.superseded is not None:
                _record(ctx, abandoned(lease.superseded, day, stage, taken_by=ctx.run_id))
            faults.point(f"stage.{stage}.start")
            yield rec
            faults.point(f"stage.{stage}.end")  # the work done, nothing recorded yet
        rec.status = "success"
    except BaseException as err:
        rec.status = "refused" if isinstance(err, LockHeld) else "failed"
        rec.message = (str(err).splitlines() or [type(err).__name__])[0][:1000]
        raise
    finally:
        rec.ended_at = utcnow()
        _record(ctx, rec)


def abandoned(holder: dict[str, Any], day: dt.date, stage: str, *, taken_by: str) -> RunRecord:
    """The record a run never wrote: it held the stage's lock and stopped without letting
    go (killed, or stalled past the lock's time to live), as its lease last showed it.

    The run that takes the lock over writes it, so a stage killed mid-way still has its
    row in ops.runs (status ``abandoned``), without a second commit on every run.
    """
    last_alive = holder.get("renewed_at") or holder.get("acquired_at")
    where = f"pid {holder.get('pid')} on {holder.get('host')}"
    how = "its process is gone" if holder.get("gone") else "its lock expired"
    return RunRecord(
        run_id=str(holder.get("run_id")),
        run_date=day,
        stage=stage,
        status="abandoned",
        started_at=_time(holder.get("acquired_at")),
        ended_at=_time(last_alive),
        message=(
            f"stopped without a record ({where}, last alive at {last_alive}; {how}); "
            f"its lock was taken over by run {taken_by}"
        ),
    )


def _time(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


def _record(ctx: RunContext, rec: RunRecord) -> None:
    try:
        ctx.lake.append_rows([asdict(rec)], "ops.runs")
    except Exception:  # the stage's own error matters more than its record's
        log.exception("could not write the ops.runs record of %s %s", rec.stage, rec.run_date)
