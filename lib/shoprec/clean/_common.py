"""Column helpers shared by the event and catalog cleaning rules."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def present(c: str) -> Column:
    """Whether column ``c`` holds a value: not null, not blank, not the text "null"."""
    return F.col(c).isNotNull() & (F.trim(F.col(c)) != "") & (F.lower(F.col(c)) != "null")


def first_failure(rules: list[tuple[Column, str, Column]]) -> tuple[Column, Column]:
    """(reason, detail) of the first rule whose condition holds, else nulls.

    ``rules``: (condition, reason code, detail) in the order they are checked.
    """
    reason: Column = F.lit(None).cast("string")
    detail: Column = F.lit(None).cast("string")
    for cond, code, why in reversed(rules):
        reason = F.when(cond, F.lit(code)).otherwise(reason)
        detail = F.when(cond, why).otherwise(detail)
    return reason, detail
