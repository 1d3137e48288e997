"""Great Expectations suites, as code, one per lake table plus the run's own numbers.

Severity is GX's own: ``critical`` expectations are blocking (the run stops and
nothing downstream is written); ``warning`` ones are reported and kept in the
results. Thresholds come from conf and reach here as arguments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.metadata_types import FailureSeverity

from shoprec import schemas as S

BLOCKING = FailureSeverity.CRITICAL
WARNING = FailureSeverity.WARNING


@dataclass(frozen=True)
class Suite:
    """A named list of expectations for one table or frame."""

    name: str
    expectations: tuple[Expectation, ...]


def _columns(schema_fields: list[str]) -> Expectation:
    return gxe.ExpectTableColumnsToMatchOrderedList(column_list=schema_fields, severity=BLOCKING)


def _not_null(*cols: str, severity: FailureSeverity = BLOCKING) -> list[Expectation]:
    return [gxe.ExpectColumnValuesToNotBeNull(column=c, severity=severity) for c in cols]


def bronze_suite(name: str, run_date: dt.date, sources: list[str]) -> Suite:
    """bronze.events / bronze.catalog for one day: its shape and its stamps.

    A day with no records at all is blocking for events (an empty day).
    """
    exps: list[Expectation] = [
        _columns([f.name for f in S.BRONZE.fields]),
        *_not_null(S.SOURCE, S.SOURCE_FORMAT, S.RUN_ID, S.INGEST_DATE, S.INGESTED_AT),
        gxe.ExpectColumnValuesToNotBeNull(column=S.RECORD, mostly=0.99, severity=WARNING),
        gxe.ExpectColumnValuesToBeInSet(column=S.SOURCE, value_set=sources, severity=WARNING),
        gxe.ExpectColumnDistinctValuesToEqualSet(
            column=S.INGEST_DATE, value_set=[run_date], severity=BLOCKING
        ),
    ]
    if name == "bronze.events":
        exps.append(gxe.ExpectTableRowCountToBeBetween(min_value=1, severity=BLOCKING))
    return Suite(name, tuple(exps))


def silver_events_suite(run_date: dt.date, max_lateness_days: int) -> Suite:
    """silver.events rows about to be written for ``run_date``."""
    earliest = run_date - dt.timedelta(days=max_lateness_days)
    return Suite(
        "silver.events",
        (
            _columns([f.name for f in S.SILVER_EVENTS.fields]),
            *_not_null(S.EVENT_ID, S.EVENT_TYPE, S.USER_ID, S.SESSION_ID, S.EVENT_TS),
            gxe.ExpectColumnValuesToBeUnique(column=S.EVENT_ID, severity=BLOCKING),
            gxe.ExpectColumnValuesToBeInSet(
                column=S.EVENT_TYPE, value_set=list(S.EVENT_TYPES), severity=BLOCKING
            ),
            gxe.ExpectColumnValuesToMatchRegex(
                column=S.USER_ID, regex=r"^p_[0-9a-f]{32}$", severity=BLOCKING
            ),
            gxe.ExpectColumnValuesToBeBetween(column=S.PRICE, min_value=0, severity=BLOCKING),
            gxe.ExpectColumnValuesToBeBetween(column=S.QUANTITY, min_value=1, severity=BLOCKING),
            gxe.ExpectColumnValuesToBeBetween(
                column=S.EVENT_DATE,
                min_value=earliest,
                max_value=run_date + dt.timedelta(days=1),
                severity=BLOCKING,
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column=S.PRICE, max_value=100_000, mostly=0.999, severity=WARNING
            ),
            gxe.ExpectColumnValuesToMatchRegex(
                column=S.CURRENCY, regex=r"^[A-Z]{3}$", severity=WARNING
            ),
        ),
    )


def silver_items_suite() -> Suite:
    """silver.items rows of one snapshot."""
    return Suite(
        "silver.items",
        (
            _columns([f.name for f in S.SILVER_ITEMS.fields]),
            *_not_null(S.ITEM_ID, S.TITLE, S.CATEGORY_PATH, S.AVAILABLE),
            gxe.ExpectColumnValuesToBeUnique(column=S.ITEM_ID, severity=BLOCKING),
            gxe.ExpectColumnValuesToBeBetween(column=S.PRICE, min_value=0, severity=BLOCKING),
            gxe.ExpectColumnValuesToNotBeNull(column=S.PRICE, mostly=0.5, severity=WARNING),
        ),
    )


def quarantine_suite() -> Suite:
    """silver.quarantine rows: every one has a known reason."""
    return Suite(
        "silver.quarantine",
        (
            _columns([f.name for f in S.QUARANTINE.fields]),
            *_not_null(S.REASON, S.ENTITY, S.SOURCE),
            gxe.ExpectColumnValuesToBeInSet(
                column=S.REASON, value_set=list(S.REASONS), severity=BLOCKING
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column=S.ENTITY, value_set=["event", "item"], severity=BLOCKING
            ),
        ),
    )


def run_metrics_suite(
    *,
    max_quarantine_rate: float,
    freshness_hours: int,
    min_volume_ratio: float | None,
    max_volume_ratio: float | None,
) -> Suite:
    """The run's own numbers (one row): quarantine rate, freshness, volume vs recent days.

    ``quarantine_rate`` is the share of non-bot events rejected as bad data; bot
    traffic is filtered by the bot rules and reported as ``bot_events`` instead.
    ``volume_ratio`` is today's accepted events over the median of recent days;
    it is null (and not checked) until there is enough history.
    """
    exps: list[Expectation] = [
        gxe.ExpectColumnValuesToBeBetween(
            column="quarantine_rate", min_value=0, max_value=max_quarantine_rate, severity=BLOCKING
        ),
        gxe.ExpectColumnValuesToBeBetween(column="accepted_events", min_value=1, severity=BLOCKING),
        gxe.ExpectColumnValuesToBeBetween(
            column="hours_since_latest_event", max_value=freshness_hours, severity=WARNING
        ),
    ]
    if min_volume_ratio is not None and max_volume_ratio is not None:
        exps.append(
            gxe.ExpectColumnValuesToBeBetween(
                column="volume_ratio",
                min_value=min_volume_ratio,
                max_value=max_volume_ratio,
                severity=BLOCKING,
            )
        )
    return Suite("run.metrics", tuple(exps))
