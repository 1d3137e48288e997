"""Run records: one ops.runs row per stage run, written whatever the outcome."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from shoprec.lake import Lake

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
def stage_run(lake: Lake, run_id: str, run_date: dt.date, stage: str) -> Iterator[RunRecord]:
    """Time a stage and append its record to ops.runs, failed or not.

    Example::

        with stage_run(lake, run_id, day, "ingest") as rec:
            rec.rows_out = write_bronze(...)
    """
    rec = RunRecord(run_id=run_id, run_date=run_date, stage=stage, started_at=utcnow())
    try:
        yield rec
        rec.status = "success"
    except BaseException as err:
        rec.status = "failed"
        rec.message = (str(err).splitlines() or [type(err).__name__])[0][:1000]
        raise
    finally:
        rec.ended_at = utcnow()
        try:
            lake.append_rows([asdict(rec)], "ops.runs")
        except Exception:  # the stage's own error matters more than its record's
            log.exception("could not write the ops.runs record of %s %s", stage, run_date)
