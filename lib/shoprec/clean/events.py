"""Bronze events -> silver events: typing, rules, dedup, bots, pseudonyms, sessions.

Each step is a pure DataFrame -> DataFrame transform. Rows that break a rule keep
flowing with ``reason`` and ``detail`` set (the first rule they break), so that one
frame can be split into accepted and quarantined rows at the end and every input
row is accounted for.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.clean._common import first_failure, present
from shoprec.clean.privacy import pseudonymize, pseudonymize_session
from shoprec.config import BotRules
from shoprec.ingest.formats import MALFORMED

REQUIRED_EVENT_FIELDS: tuple[str, ...] = (S.EVENT_ID, S.EVENT_TYPE, S.USER_ID, S.EVENT_TS)
RECORD_HASH = "_record_hash"  # see without_record


def type_events(
    fields: DataFrame,
    *,
    run_date: dt.date,
    max_lateness_days: int,
    future_tolerance_minutes: int,
) -> DataFrame:
    """Cast canonical string fields to their types and mark the first broken rule.

    Input: the output of a source format's ``events_to_fields``. Output: typed
    canonical columns, ``record``, ``source_file``, ``reason``, ``detail``.
    """
    t = fields.select(
        "*",
        F.col(S.PRICE).cast("double").alias("_price"),
        F.col(S.QUANTITY).cast("double").alias("_quantity"),
        F.col(S.POSITION).cast("int").alias("_position"),
        F.col(S.EVENT_TS).cast("timestamp").alias("_ts"),
        F.from_json(S.RESULTS, "array<string>").alias("_results"),
    )
    earliest = dt.datetime.combine(run_date - dt.timedelta(days=max_lateness_days), dt.time())
    latest = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time()) + dt.timedelta(
        minutes=future_tolerance_minutes
    )
    etype = F.col(S.EVENT_TYPE)
    is_item_event = etype.isin(*S.ITEM_EVENT_TYPES)
    is_qty_event = etype.isin(*S.QUANTITY_EVENT_TYPES)

    def bad_cast(raw: str, typed: str) -> Column:
        return present(raw) & F.col(typed).isNull()

    rules: list[tuple[Column, str, Column]] = [
        (F.col(MALFORMED), S.MALFORMED_RECORD, F.lit("record is not a readable object")),
    ]
    rules += [(~present(c), S.MISSING_FIELD, F.lit(c)) for c in REQUIRED_EVENT_FIELDS]
    rules += [
        (~etype.isin(*S.EVENT_TYPES), S.UNKNOWN_EVENT_TYPE, etype),
        (is_item_event & ~present(S.ITEM_ID), S.MISSING_FIELD, F.lit(S.ITEM_ID)),
        ((etype == S.SEARCH) & ~present(S.QUERY), S.MISSING_FIELD, F.lit(S.QUERY)),
        (F.col("_ts").isNull(), S.BAD_TIMESTAMP, F.col(S.EVENT_TS)),
        (bad_cast(S.PRICE, "_price"), S.INVALID_TYPE, F.concat(F.lit("price="), F.col(S.PRICE))),
        (
            bad_cast(S.QUANTITY, "_quantity"),
            S.INVALID_TYPE,
            F.concat(F.lit("quantity="), F.col(S.QUANTITY)),
        ),
        (
            bad_cast(S.POSITION, "_position"),
            S.INVALID_TYPE,
            F.concat(F.lit("position="), F.col(S.POSITION)),
        ),
        (
            present(S.RESULTS) & F.col("_results").isNull(),
            S.INVALID_TYPE,
            F.lit("results is not a list"),
        ),
        (F.col("_price") < 0, S.NEGATIVE_PRICE, F.col(S.PRICE)),
        (
            is_qty_event
            & (
                F.col("_quantity").isNull()
                | (F.col("_quantity") <= 0)
                | (F.col("_quantity") != F.floor("_quantity"))
            ),
            S.INVALID_QUANTITY,
            F.coalesce(F.col(S.QUANTITY), F.lit("null")),
        ),
        (F.col("_ts") >= F.lit(latest), S.FUTURE_TIMESTAMP, F.col(S.EVENT_TS)),
        (F.col("_ts") < F.lit(earliest), S.STALE_TIMESTAMP, F.col(S.EVENT_TS)),
    ]
    reason, detail = first_failure(rules)
    return t.select(
        F.col(S.EVENT_ID),
        F.col(S.EVENT_TYPE),
        F.col(S.USER_ID),
        F.when(present(S.SESSION_ID), F.col(S.SESSION_ID)).alias(S.SESSION_ID),
        F.when(is_item_event, F.col(S.ITEM_ID)).alias(S.ITEM_ID),
        F.when(is_qty_event, F.col("_quantity").cast("int")).alias(S.QUANTITY),
        F.col("_price").alias(S.PRICE),
        F.upper(F.coalesce(F.col(S.CURRENCY), F.lit("USD"))).alias(S.CURRENCY),
        F.col(S.QUERY),
        F.col("_results").alias(S.RESULTS),
        F.col(S.SEARCH_ID),
        F.col("_position").alias(S.POSITION),
        F.col("_ts").alias(S.EVENT_TS),
        F.col(S.USER_AGENT),
        F.col(S.RECORD),
        F.col(S.SOURCE_FILE),
        reason.alias(S.REASON),
        detail.alias(S.DETAIL),
    )


def _flag(df: DataFrame, cond: Column, code: str, detail: Column) -> DataFrame:
    """Set reason/detail on rows not yet rejected where ``cond`` holds."""
    hit = F.col(S.REASON).isNull() & cond
    return df.withColumn(S.DETAIL, F.when(hit, detail).otherwise(F.col(S.DETAIL))).withColumn(
        S.REASON, F.when(hit, F.lit(code)).otherwise(F.col(S.REASON))
    )


def flag_unknown_items(events: DataFrame, known_item_ids: DataFrame) -> DataFrame:
    """Reject item events whose item is in no catalog snapshot up to the run date."""
    known = known_item_ids.select(F.col(S.ITEM_ID).alias("_known")).distinct()
    joined = events.join(F.broadcast(known), events[S.ITEM_ID] == known["_known"], "left")
    out = _flag(
        joined,
        F.col(S.ITEM_ID).isNotNull() & F.col("_known").isNull(),
        S.UNKNOWN_ITEM,
        F.col(S.ITEM_ID),
    )
    return out.drop("_known")


def bot_verdict(events: DataFrame, rules: BotRules) -> DataFrame:
    """``user_id`` and ``_bot`` (why) of every user who looks automated on this day.

    A user is a bot when any rule holds: more events in the day than
    ``max_events_per_user_per_day``, more in one minute than
    ``max_events_per_user_per_minute``, or a user agent matching a pattern. Only rows
    not yet rejected count. One aggregation: per user and minute, then per user.
    """
    ua = F.coalesce(F.col(S.USER_AGENT), F.lit(""))
    ua_hit = F.lit(False)
    for pattern in rules.user_agent_patterns:
        ua_hit = ua_hit | ua.rlike(pattern)
    per_minute = (
        events.where(F.col(S.REASON).isNull())
        .groupBy(S.USER_ID, F.date_trunc("minute", S.EVENT_TS).alias("_m"))
        .agg(F.count(F.lit(1)).alias("_c"), F.max(ua_hit.cast("int")).alias("_u"))
    )
    per_user = per_minute.groupBy(S.USER_ID).agg(
        F.sum("_c").alias("_n"), F.max("_c").alias("_peak"), F.max("_u").alias("_ua")
    )
    why = (
        F.when(F.col("_ua") == 1, F.lit("user agent"))
        .when(
            F.col("_n") > rules.max_events_per_user_per_day,
            F.format_string("%d events/day", "_n"),
        )
        .when(
            F.col("_peak") > rules.max_events_per_user_per_minute,
            F.format_string("%d events/minute", "_peak"),
        )
    )
    return per_user.select(S.USER_ID, why.alias("_bot")).where(F.col("_bot").isNotNull())


def flag_bots(events: DataFrame, verdict: DataFrame) -> DataFrame:
    """Reject every event of a user in ``verdict`` (from :func:`bot_verdict`).

    The verdict is broadcast: automated users are few, and the events then keep
    their partitioning instead of being shuffled for the join.
    """
    joined = events.join(F.broadcast(verdict), S.USER_ID, "left")
    return _flag(joined, F.col("_bot").isNotNull(), S.BOT_TRAFFIC, F.col("_bot")).drop("_bot")


def without_record(events: DataFrame) -> DataFrame:
    """Drop the raw ``record``, keeping ``_record_hash`` (its xxhash64) to break ties.

    Only quarantined rows keep their record; accepted rows are shuffled (de-duplication,
    sessions) without it, at a fraction of the bytes.
    """
    return events.withColumn(RECORD_HASH, F.xxhash64(S.RECORD)).drop(S.RECORD)


def mark_duplicates(accepted: DataFrame, seen_event_ids: DataFrame) -> DataFrame:
    """Add ``_duplicate``: a later copy of an event id in this batch, or an id seen before.

    ``accepted`` comes from :func:`without_record`. Of copies within the batch the
    earliest is kept, then the one whose record hashes lowest (identical copies are
    interchangeable), so reruns keep the same copy.
    """
    w = Window.partitionBy(S.EVENT_ID).orderBy(S.EVENT_TS, RECORD_HASH)
    seen = seen_event_ids.select(F.col(S.EVENT_ID).alias("_seen")).distinct()
    ranked = accepted.withColumn("_copy", F.row_number().over(w))
    joined = ranked.join(seen, ranked[S.EVENT_ID] == seen["_seen"], "left")
    return joined.withColumn("_duplicate", (F.col("_copy") > 1) | F.col("_seen").isNotNull()).drop(
        "_copy", "_seen"
    )


def sessionize(events: DataFrame, *, gap_minutes: int, run_date: dt.date) -> DataFrame:
    """Fill missing session ids: a user's session ends after ``gap_minutes`` idle.

    Sessions a source provides are kept (pseudonymized before this, see
    :func:`to_silver_events`). Derived ids hash the (pseudonymized) user, the run
    date and the session's number within that day, so reruns give the same ids.
    """
    w = Window.partitionBy(S.USER_ID).orderBy(S.EVENT_TS, S.EVENT_ID)
    gap = F.col(S.EVENT_TS).cast("long") - F.lag(F.col(S.EVENT_TS).cast("long")).over(w)
    starts = F.when(gap.isNull() | (gap > gap_minutes * 60), 1).otherwise(0)
    numbered = events.withColumn("_start", starts).withColumn(
        "_session_no", F.sum("_start").over(w.rowsBetween(Window.unboundedPreceding, 0))
    )
    derived = F.concat(
        F.lit("s_"),
        F.sha2(
            F.concat_ws(":", F.col(S.USER_ID), F.lit(run_date.isoformat()), F.col("_session_no")),
            256,
        ).substr(1, 24),
    )
    return numbered.withColumn(S.SESSION_ID, F.coalesce(F.col(S.SESSION_ID), derived)).drop(
        "_start", "_session_no"
    )


def to_silver_events(
    accepted: DataFrame,
    *,
    key: str,
    gap_minutes: int,
    run_date: dt.date,
    run_id: str,
) -> DataFrame:
    """Accepted, unique events (with their ``source``) -> silver rows: pseudonymized, sessionized, no PII.

    Only the canonical columns leave this function: e-mail, IP, names and the user
    agent that arrived in bronze are gone, and user and session ids are keyed hashes.
    """
    pseudo = accepted.withColumns(
        {
            S.USER_ID: pseudonymize(F.col(S.USER_ID), key),
            S.SESSION_ID: pseudonymize_session(F.col(S.SESSION_ID), key),
        }
    )
    sessions = sessionize(pseudo, gap_minutes=gap_minutes, run_date=run_date)
    return sessions.select(
        *[c.name for c in S.SILVER_EVENTS.fields if c.name not in _SILVER_STAMPS],
        F.to_date(S.EVENT_TS).alias(S.EVENT_DATE),
        F.col(S.SOURCE),
        F.lit(run_id).alias(S.RUN_ID),
        F.lit(run_date).cast("date").alias(S.INGEST_DATE),
    )


_SILVER_STAMPS = (S.EVENT_DATE, S.SOURCE, S.RUN_ID, S.INGEST_DATE)
