from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.clean.events import (
    bot_verdict,
    flag_bots,
    flag_unknown_items,
    mark_duplicates,
    sessionize,
    to_silver_events,
    type_events,
    without_record,
)
from shoprec.clean.privacy import SESSION_LABEL, pseudonym_of
from shoprec.config import BotRules
from shoprec.ingest.formats import canonical_events

DAY = dt.date(2026, 11, 1)
GOOD: dict[str, Any] = {
    "event_id": "e1",
    "event_type": "purchase",
    "user_id": "u1",
    "session_id": "s1",
    "item_id": "i1",
    "quantity": 2,
    "price": 9.5,
    "timestamp": "2026-11-01T10:00:00+01:00",
    "email": "someone@example.com",
    "ip": "10.1.2.3",
}


def typed(spark: SparkSession, *records: dict[str, Any] | str) -> DataFrame:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    bronze = spark.createDataFrame(
        [(line, "f.jsonl") for line in lines], "record string, source_file string"
    )
    return type_events(
        canonical_events(bronze), run_date=DAY, max_lateness_days=3, future_tolerance_minutes=60
    ).withColumn(S.SOURCE, F.lit("shop"))


def reason_of(spark: SparkSession, record: dict[str, Any] | str) -> str | None:
    row = typed(spark, record).first()
    assert row is not None
    return row[S.REASON]


def test_good_record_is_typed(spark: SparkSession) -> None:
    row = typed(spark, GOOD).first()
    assert row is not None
    assert row[S.REASON] is None
    assert row[S.QUANTITY] == 2 and row[S.PRICE] == 9.5
    assert row[S.EVENT_TS] == dt.datetime(2026, 11, 1, 9, 0)  # UTC


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"event_id": None}, S.MISSING_FIELD),
        ({"user_id": ""}, S.MISSING_FIELD),
        ({"timestamp": None}, S.MISSING_FIELD),
        ({"event_type": "teleport"}, S.UNKNOWN_EVENT_TYPE),
        ({"item_id": None}, S.MISSING_FIELD),
        ({"timestamp": "yesterday-ish"}, S.BAD_TIMESTAMP),
        ({"price": "abc"}, S.INVALID_TYPE),
        ({"quantity": "two"}, S.INVALID_TYPE),
        ({"price": -1.0}, S.NEGATIVE_PRICE),
        ({"quantity": 0}, S.INVALID_QUANTITY),
        ({"quantity": 1.5}, S.INVALID_QUANTITY),
        ({"timestamp": "2026-11-05T00:00:00Z"}, S.FUTURE_TIMESTAMP),
        ({"timestamp": "2026-10-01T00:00:00Z"}, S.STALE_TIMESTAMP),
    ],
)
def test_each_rule_has_its_reason(spark: SparkSession, change: dict[str, Any], reason: str) -> None:
    assert reason_of(spark, {**GOOD, **change}) == reason


@pytest.mark.parametrize("line", ['{"event_id": "e1", "event_ty', "[1, 2]", '"text"', "not json"])
def test_malformed_lines(spark: SparkSession, line: str) -> None:
    assert reason_of(spark, line) == S.MALFORMED_RECORD


def test_search_needs_query_not_item(spark: SparkSession) -> None:
    search = {
        **GOOD,
        "event_type": "search",
        "item_id": None,
        "query": "red shoes",
        "quantity": None,
    }
    assert reason_of(spark, search) is None
    assert reason_of(spark, {**search, "query": None}) == S.MISSING_FIELD


def test_unknown_items(spark: SparkSession) -> None:
    events = typed(spark, GOOD, {**GOOD, "event_id": "e2", "item_id": "i404"})
    known = spark.createDataFrame([("i1",)], "item_id string")
    rows = {r[S.EVENT_ID]: r[S.REASON] for r in flag_unknown_items(events, known).collect()}
    assert rows == {"e1": None, "e2": S.UNKNOWN_ITEM}


def test_bots_by_volume_rate_and_agent(spark: SparkSession) -> None:
    records = [{**GOOD, "event_id": f"h{i}", "user_id": "human"} for i in range(3)]
    records += [
        {
            **GOOD,
            "event_id": f"b{i}",
            "user_id": "busy",
            "timestamp": f"2026-11-01T1{i % 10}:00:00Z",
        }
        for i in range(6)
    ]
    records += [{**GOOD, "event_id": f"r{i}", "user_id": "rapid"} for i in range(4)]
    records += [{**GOOD, "event_id": "g1", "user_id": "crawler", "user_agent": "Googlebot/2.1"}]
    rules = BotRules(max_events_per_user_per_day=5, max_events_per_user_per_minute=3)
    events = typed(spark, *records)
    flagged = flag_bots(events, bot_verdict(events, rules))
    by_user = {
        r[S.USER_ID]: (r["reasons"], r["n"])
        for r in flagged.groupBy(S.USER_ID)
        .agg(F.collect_set(S.REASON).alias("reasons"), F.count("*").alias("n"))
        .collect()
    }
    assert by_user["human"] == ([], 3)
    assert by_user["busy"] == ([S.BOT_TRAFFIC], 6)
    assert by_user["rapid"] == ([S.BOT_TRAFFIC], 4)
    assert by_user["crawler"] == ([S.BOT_TRAFFIC], 1)


def test_duplicates_in_batch_and_seen_before(spark: SparkSession) -> None:
    events = typed(spark, GOOD, GOOD, {**GOOD, "event_id": "old"}, {**GOOD, "event_id": "e3"})
    seen = spark.createDataFrame([("old",)], "event_id string")
    marked = mark_duplicates(without_record(events), seen)
    dupes = sorted(r[S.EVENT_ID] for r in marked.where("_duplicate").collect())
    kept = sorted(r[S.EVENT_ID] for r in marked.where("not _duplicate").collect())
    assert dupes == ["e1", "old"] and kept == ["e1", "e3"]


def test_sessionize_splits_on_gap_and_keeps_source_sessions(spark: SparkSession) -> None:
    times = ["10:00", "10:10", "11:00", "11:20"]
    records = [
        {**GOOD, "event_id": f"e{i}", "session_id": None, "timestamp": f"2026-11-01T{t}:00Z"}
        for i, t in enumerate(times)
    ]
    records.append({**GOOD, "event_id": "kept", "session_id": "given"})
    out = sessionize(typed(spark, *records), gap_minutes=30, run_date=DAY)
    sessions = {r[S.EVENT_ID]: r[S.SESSION_ID] for r in out.collect()}
    assert sessions["e0"] == sessions["e1"] != sessions["e2"]
    assert sessions["e2"] == sessions["e3"]
    assert sessions["kept"] == "given"
    again = {
        r[S.EVENT_ID]: r[S.SESSION_ID]
        for r in sessionize(typed(spark, *records), gap_minutes=30, run_date=DAY).collect()
    }
    assert again == sessions  # deterministic across reruns


def test_silver_rows_have_no_personal_data(spark: SparkSession) -> None:
    silver = to_silver_events(
        typed(spark, GOOD).where(F.col(S.REASON).isNull()),
        key="k" * 20,
        gap_minutes=30,
        run_date=DAY,
        run_id="r1",
    )
    assert silver.columns == [f.name for f in S.SILVER_EVENTS.fields]
    row = silver.first()
    assert row is not None
    values = " ".join(str(v) for v in row.asDict().values())
    assert "someone@example.com" not in values and "10.1.2.3" not in values
    assert row[S.USER_ID].startswith("p_") and row[S.USER_ID] != "u1"
    # the source's session id is keyed too (it links back to the shop's own logs)
    assert row[S.SESSION_ID].startswith("s_") and "s1" not in row[S.SESSION_ID]
    assert row[S.SESSION_ID] == pseudonym_of(SESSION_LABEL + "s1", "k" * 20).replace("p_", "s_")
    assert row[S.EVENT_DATE] == DAY
