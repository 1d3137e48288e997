"""The retention stage on a tiny lake: raw records of several ingest dates in bronze and
the quarantine, one night's retention with a 2-day window and VACUUM at 0 hours."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from shoprec import schemas as S
from shoprec.config import Settings
from shoprec.errors import InputError
from shoprec.lake import Lake
from shoprec.retention import RAW_TABLES
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.retention import retention
from shoprec.stages.validate import validate
from tests.conftest import TEST_KEY

RUN = dt.date(2026, 11, 10)
RAW_DAYS = 2  # the cutoff is 2026-11-08: the 6th and 7th are past retention
OLD = [dt.date(2026, 11, 6), dt.date(2026, 11, 7)]
KEPT = [dt.date(2026, 11, 8), RUN]
AT = dt.datetime(2026, 11, 1, 3, tzinfo=dt.UTC)


def email(table: str, day: dt.date, i: int) -> str:
    """Personal data that names where it is, to look for it on disk."""
    return f"u{i}.{table}.{day}@example.com"


def payload(table: str, day: dt.date, i: int) -> str:
    return f'{{"email": "{email(table, day, i)}", "ip": "10.1.{day.day}.{i}"}}'


def bronze(table: str, day: dt.date, source: str, n: int) -> list[tuple[Any, ...]]:
    where = f"{table}-{source}"
    return [
        (payload(where, day, i), source, "canonical", f"{source}.jsonl", AT, f"run-{day}", day)
        for i in range(n)
    ]


def quarantined(day: dt.date) -> list[tuple[Any, ...]]:
    reasons = (S.MALFORMED_RECORD, S.BOT_TRAFFIC)
    return [
        ("event", "web", r, "why", payload("quarantine", day, i), "f", f"run-{day}", AT, day)
        for i, r in enumerate(reasons)
    ]


ROWS = {
    # two sources on an old date: bronze partitions are (ingest_date, source)
    "bronze.events": bronze("events", OLD[0], "web", 3)
    + bronze("events", OLD[0], "app", 1)
    + [r for d in (OLD[1], *KEPT) for r in bronze("events", d, "web", 2)],
    "bronze.catalog": [r for d in (OLD[1], KEPT[0]) for r in bronze("catalog", d, "web", 2)],
    "silver.quarantine": [r for d in (*OLD, *KEPT) for r in quarantined(d)],
}


def cleared(rows: list[tuple[Any, ...]], table: str) -> list[tuple[Any, ...]]:
    """``rows`` as retention leaves them: the record of old dates null, the rest as is."""
    fields = [f.name for f in S.TABLES[table].schema.fields]
    at, day_at = fields.index(S.RECORD), fields.index(S.INGEST_DATE)
    return [
        tuple(None if i == at and r[day_at] in OLD else v for i, v in enumerate(r)) for r in rows
    ]


def old_emails() -> set[str]:
    """The e-mail addresses in the raw records of the dates past retention."""
    fields = {t: [f.name for f in S.TABLES[t].schema.fields] for t in RAW_TABLES}
    return {
        r[fields[t].index(S.RECORD)].split('"')[3]
        for t in RAW_TABLES
        for r in ROWS[t]
        if r[fields[t].index(S.INGEST_DATE)] in OLD
    }


@pytest.fixture(scope="module")
def conf(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings().with_overrides(
        {
            "lake": {"root": str(tmp_path_factory.mktemp("retention") / "lake")},
            "privacy": {"key": TEST_KEY},
            "retention": {"raw_days": RAW_DAYS, "vacuum_hours": 0},
        }
    )


def night(spark: SparkSession, conf: Settings, day: dt.date, stage: Any) -> StageReport:
    report: StageReport = stage(RunContext.create(spark, conf, day, f"test-{day}"))
    return report


@pytest.fixture(scope="module")
def ran(spark: SparkSession, conf: Settings) -> tuple[Lake, StageReport]:
    """The lake after one retention night for RUN; the quarantine has deletion vectors on."""
    lake = Lake(spark, conf.lake.root)
    for name, rows in ROWS.items():
        lake.append(spark.createDataFrame(rows, S.TABLES[name].schema), name)
    spark.sql(
        f"ALTER TABLE delta.`{lake.path('silver.quarantine')}` "
        "SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')"
    )
    return lake, night(spark, conf, RUN, retention)


def test_old_payloads_are_null_and_everything_else_is_kept(
    ran: tuple[Lake, StageReport], spark: SparkSession
) -> None:
    lake, report = ran
    for name in RAW_TABLES:
        expected = spark.createDataFrame(cleared(ROWS[name], name), S.TABLES[name].schema)
        assertDataFrameEqual(lake.read(name), expected)
    # 4 + 2 events, 2 catalog records and 2 x 2 quarantined on the 6th and 7th
    assert report.tables == {"bronze.events": 6, "bronze.catalog": 2, "silver.quarantine": 4}
    assert report.counts == {"rows_cleared": 12, "dates_cleared": 2}
    rec = lake.read("ops.runs").where(F.col("stage") == "retention").orderBy("started_at").first()
    assert rec is not None and (rec["status"], rec["rows_out"]) == ("success", 12)
    assert rec["message"].startswith("raw records ingested before 2026-11-08: ")
    assert "bronze.events 6 rows (2 dates, 2026-11-06..2026-11-07)" in rec["message"]


def test_old_payloads_are_gone_from_storage(ran: tuple[Lake, StageReport]) -> None:
    """No file under the tables' folders holds an old payload: the rewritten partitions'
    old files were vacuumed (at 0 hours), deletion vectors did not keep them live, and the
    Delta log keeps no statistics of the record. Parquet is decoded, the rest read raw."""
    lake, _ = ran
    secrets, found, kept = old_emails(), [], 0
    for name in RAW_TABLES:
        for path in Path(lake.path(name)).rglob("*"):
            if not path.is_file():
                continue
            if path.suffix == ".parquet":
                text = repr(pq.read_table(path).to_pylist())
                kept += "@example.com" in text
            else:
                text = path.read_bytes().decode("utf-8", "replace")
            found += [f"{path}: {s}" for s in secrets if s in text]
    assert found == []
    assert kept >= 3  # the scan reads payloads where they are kept (a file per table at least)


def test_a_rerun_changes_nothing(
    ran: tuple[Lake, StageReport], spark: SparkSession, conf: Settings
) -> None:
    lake, _ = ran
    before = {name: lake.version(name) or 0 for name in RAW_TABLES}
    again = night(spark, conf, RUN, retention)
    assert again.tables == dict.fromkeys(RAW_TABLES, 0) and again.notes == []
    assert again.counts == {"rows_cleared": 0, "dates_cleared": 0}
    for name in RAW_TABLES:  # no data commit: VACUUM's own log entries only
        newer = {h["operation"] for h in lake.history(name) if h["version"] > before[name]}
        assert newer <= {"VACUUM START", "VACUUM END"}, (name, newer)


def test_validate_refuses_a_date_past_retention(
    ran: tuple[Lake, StageReport], spark: SparkSession, conf: Settings
) -> None:
    lake, _ = ran
    with pytest.raises(InputError) as err:
        night(spark, conf, OLD[1], validate)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("bronze.events: the raw records of 2026-11-07 are past retention")
    rec = lake.read("ops.runs").where(
        (F.col("stage") == "validate") & (F.col("run_date") == F.lit(OLD[1]))
    )
    assert [(r["status"], r["message"]) for r in rec.collect()] == [("failed", message)]
