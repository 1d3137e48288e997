"""The ingest and validate stages end to end on a small dirty synthetic shop.

One lake is built for the module (three days); tests that rerun or break a day
put it back the way they found it, and check that they did.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.config import Settings
from shoprec.errors import InputError, ValidationFailed
from shoprec.lake import Lake
from shoprec.stages.context import RunContext
from shoprec.stages.nightly import run_stage
from shoprec.stages.validate import validate
from shoprec.synthetic import ShopSpec, as_source, generate_shop
from tests.conftest import TEST_KEY

START = dt.date(2026, 11, 1)
DAYS = [START + dt.timedelta(days=i) for i in range(3)]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shop")
    generate_shop(
        ShopSpec(users=150, items=60, days=3, seed=7, start_date=START, dirty_rate=0.05), out
    )
    return out


@pytest.fixture(scope="module")
def conf(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    lake_root = tmp_path_factory.mktemp("e2e") / "lake"
    return Settings().with_overrides(
        {
            "lake": {"root": str(lake_root)},
            "privacy": {"key": TEST_KEY},
            "sources": [as_source(shop)],
            # This module is about ingest and validate; test_nightly covers the models.
            "models": {"enabled": ["popularity", "itemknn"]},
            "search": {"enabled": False},
        }
    )


@pytest.fixture(scope="module")
def built(spark: SparkSession, conf: Settings) -> Lake:
    """Ingest and validate each day (the stages after them are test_nightly's)."""
    for day in DAYS:
        run_id = f"built-{day:%Y%m%d}"
        for stage in ("ingest", "validate"):
            run_stage(spark, conf, stage, day, run_id=run_id)
    return Lake(spark, conf.lake.root)


def partition_counts(lake: Lake) -> dict[str, dict[Any, int]]:
    """Rows per partition value of every data table (ops tables grow with each run)."""
    out: dict[str, dict[Any, int]] = {}
    for name in (
        "bronze.events",
        "bronze.catalog",
        "silver.events",
        "silver.items",
        "silver.quarantine",
    ):
        col = S.TABLES[name].partition_by[0]
        out[name] = {r[0]: r[1] for r in lake.read(name).groupBy(col).count().collect()}
    return out


def day(df: DataFrame, col: str, d: dt.date) -> DataFrame:
    return df.where(F.col(col) == F.lit(d))


def latest_run(lake: Lake, d: dt.date, stage: str) -> Any:
    rows = day(lake.read("ops.runs"), "run_date", d).where(F.col("stage") == stage)
    return rows.orderBy(F.col("started_at").desc()).first()


def test_bronze_keeps_every_line_as_received(built: Lake, shop: Path) -> None:
    for d in DAYS:
        path = shop / "events" / f"date={d}" / "events.jsonl"
        lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        stored = day(built.read("bronze.events"), S.INGEST_DATE, d)
        assert stored.count() == len(lines)
        assert sorted(r[0] for r in stored.select(S.RECORD).collect()) == sorted(lines)


def test_every_event_is_accounted_for(built: Lake) -> None:
    for d in DAYS:
        rec = latest_run(built, d, "validate")
        assert rec["status"] == "success"
        bronze = day(built.read("bronze.events"), S.INGEST_DATE, d).count()
        silver = day(built.read("silver.events"), S.INGEST_DATE, d).count()
        quarantined = (
            day(built.read("silver.quarantine"), S.INGEST_DATE, d)
            .where(F.col(S.ENTITY) == "event")
            .count()
        )
        assert rec["rows_in"] == bronze  # canonical records are one event each
        assert rec["rows_out"] == silver and rec["rows_quarantined"] == quarantined
        assert rec["rows_in"] == rec["rows_out"] + rec["rows_quarantined"] + rec["rows_duplicate"]
        assert rec["rows_duplicate"] > 0


def test_dirty_records_land_in_quarantine_with_reasons(built: Lake) -> None:
    reasons = {r[0] for r in built.read("silver.quarantine").select(S.REASON).distinct().collect()}
    for expected in (
        S.MALFORMED_RECORD,
        S.MISSING_FIELD,
        S.INVALID_TYPE,
        S.NEGATIVE_PRICE,
        S.FUTURE_TIMESTAMP,
        S.UNKNOWN_ITEM,
        S.BOT_TRAFFIC,
        S.UNKNOWN_EVENT_TYPE,
    ):
        assert expected in reasons
    assert built.read("silver.quarantine").where(F.col(S.RECORD).isNull()).count() == 0


def test_silver_is_clean_and_has_no_personal_data(built: Lake) -> None:
    events = built.read("silver.events")
    assert events.columns == [f.name for f in S.SILVER_EVENTS.fields]
    assert events.where(~F.col(S.USER_ID).rlike(r"^p_[0-9a-f]{32}$")).count() == 0
    assert events.where(F.col(S.EVENT_TS) >= F.lit(dt.datetime(2026, 11, 5))).count() == 0
    assert events.groupBy(S.EVENT_ID).count().where("count > 1").count() == 0
    assert events.where(F.col(S.SESSION_ID).isNull()).count() == 0
    text = " ".join(str(v) for r in events.limit(500).collect() for v in r)
    assert "@" not in text  # no e-mail address survives
    assert set(built.read("silver.events").columns).isdisjoint(S.PII_FIELDS)


def test_results_json_ops_tables_and_data_docs(built: Lake) -> None:
    results = Path(built.root) / "_quality" / "results" / DAYS[0].isoformat()
    names = {p.name for p in results.glob("*.json")}
    assert {"bronze.events.json", "silver.events.json", "run.metrics.json"} <= names
    doc = json.loads((results / "silver.events.json").read_text())
    assert doc["success"] is True and doc["results"]
    assert (Path(built.root) / "_quality" / "gx").rglob("index.html")
    validations = built.read("ops.validations")
    assert validations.where(~F.col("success")).count() == 0
    assert {r[0] for r in validations.select("suite").distinct().collect()} >= {
        "bronze.events",
        "silver.events",
        "silver.items",
        "silver.quarantine",
        "run.metrics",
    }


def test_rerun_of_a_date_leaves_identical_tables(
    spark: SparkSession, built: Lake, conf: Settings
) -> None:
    before = partition_counts(built)
    ids_before = sorted(
        r[0]
        for r in day(built.read("silver.events"), S.INGEST_DATE, DAYS[1])
        .select(S.EVENT_ID)
        .collect()
    )
    for stage in ("ingest", "validate"):  # a rerun of the date, under a new run id
        run_stage(spark, conf, stage, DAYS[1])
    assert partition_counts(built) == before
    ids_after = sorted(
        r[0]
        for r in day(built.read("silver.events"), S.INGEST_DATE, DAYS[1])
        .select(S.EVENT_ID)
        .collect()
    )
    assert ids_after == ids_before


def test_killed_run_leaves_last_good_state_and_rerun_completes(
    spark: SparkSession, built: Lake, conf: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = partition_counts(built)
    events_version = built.version("silver.events")
    real = Lake.replace

    def crash(self: Lake, df: DataFrame, name: str, *, where: dict[str, Any]) -> int:
        if name == "silver.events":
            raise KeyboardInterrupt("killed")
        return real(self, df, name, where=where)

    monkeypatch.setattr(Lake, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        run_stage(spark, conf, "validate", DAYS[2])
    monkeypatch.setattr(Lake, "replace", real)

    assert built.version("silver.events") == events_version  # untouched, readable
    assert partition_counts(built) == before
    assert latest_run(built, DAYS[2], "validate")["status"] == "failed"
    run_stage(spark, conf, "validate", DAYS[2])
    assert partition_counts(built) == before
    assert latest_run(built, DAYS[2], "validate")["status"] == "success"


def test_blocking_failure_writes_nothing_to_silver(
    spark: SparkSession, built: Lake, conf: Settings
) -> None:
    strict = conf.with_overrides({"quality": {"max_quarantine_rate": 0.0001}})
    versions = {n: built.version(n) for n in ("silver.events", "silver.items", "silver.quarantine")}
    with pytest.raises(ValidationFailed, match="quarantine_rate") as err:
        run_stage(spark, strict, "validate", DAYS[0])
    assert "\n" not in str(err.value) and "nothing written to silver" in str(err.value)
    assert {n: built.version(n) for n in versions} == versions
    rec = latest_run(built, DAYS[0], "validate")
    assert (rec["status"], rec["validation"]) == ("failed", "failed")
    failed = built.read("ops.validations").where(~F.col("success")).select("suite").collect()
    assert [r[0] for r in failed] == ["run.metrics"]


def test_empty_day_is_blocking(
    spark: SparkSession, built: Lake, conf: Settings, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    (empty / "events").mkdir(parents=True)
    (empty / "events" / "e.jsonl").write_text("")
    no_data = conf.with_overrides(
        {"sources": [{"name": "quiet", "format": "canonical", "events": str(empty / "events")}]}
    )
    quiet_day = dt.date(2026, 12, 24)
    run_stage(spark, no_data, "ingest", quiet_day)
    with pytest.raises(ValidationFailed, match="row_count"):
        run_stage(spark, no_data, "validate", quiet_day)
    assert day(built.read("silver.events"), S.INGEST_DATE, quiet_day).count() == 0


def test_missing_input_fails_before_touching_bronze(
    spark: SparkSession, built: Lake, conf: Settings
) -> None:
    version = built.version("bronze.events")
    with pytest.raises(
        InputError, match=r"sources\[0\]\.events \(synthetic\): input path not found"
    ):
        run_stage(spark, conf, "ingest", dt.date(2027, 1, 1))
    assert built.version("bronze.events") == version


def test_stage_reports_feed_the_summary(spark: SparkSession, built: Lake, conf: Settings) -> None:
    ctx = RunContext.create(spark, conf, DAYS[0], "summary-check")
    report = validate(ctx)
    assert report.counts["received_events"] == (
        report.counts["accepted_events"]
        + report.counts["quarantined_events"]
        + report.counts["duplicate_events"]
    )
    assert sum(report.quarantined_by_reason.values()) == report.tables["silver.quarantine"]
    assert report.data_docs and report.data_docs.endswith("index.html")
