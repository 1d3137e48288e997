"""Erasure (the right to be forgotten): which rows and bytes belong to the users asked for.

A user is in the lake under two names: the shop's own id, in the raw records bronze
and silver.quarantine keep as received, and the pseudonym (:mod:`shoprec.clean.privacy`)
everywhere after validate. These transforms find both; the forget stage
(:mod:`shoprec.stages.forget`) deletes what they find.

The ids never become literals of a query: they travel as a small DataFrame joined in,
so neither a plan, the Spark UI nor a Delta commit's record holds them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.ingest.formats import MALFORMED, get_format

SHOP_ID = "_shop_id"
FORGOTTEN = "[forgotten]"
# A raw record's tokens: what an id can be delimited by in JSON, CSV and logs.
_TOKEN_SPLIT = r"[^A-Za-z0-9_.@+:-]+"


def raw_records_of(raw: DataFrame, source_format: str, shop_ids: DataFrame) -> DataFrame:
    """The raw records of ``raw`` that belong to the users in ``shop_ids``.

    ``raw``: rows with ``record`` and ``source_file`` (bronze.events, or the event rows
    of silver.quarantine) of one source format; ``shop_ids``: one column ``_shop_id``.
    A record that parses is the users' when its user id is one of theirs; a record
    that does not (truncated, broken encoding) when one of its tokens is one of their
    ids, since nothing else can tell whose it is. Output: distinct ``record``.
    """
    fields = get_format(source_format).events_to_fields(raw.select(S.RECORD, S.SOURCE_FILE))
    ids = F.broadcast(shop_ids.select(F.col(SHOP_ID)))
    broken_row = F.coalesce(F.col(MALFORMED), F.lit(False))
    parsed = fields.where(~broken_row).join(ids, F.col(S.USER_ID) == F.col(SHOP_ID))
    broken = (
        fields.where(broken_row)
        .select(S.RECORD, F.explode(F.split(S.RECORD, _TOKEN_SPLIT)).alias("_token"))
        .join(ids, F.col("_token") == F.col(SHOP_ID))
    )
    return parsed.select(S.RECORD).unionByName(broken.select(S.RECORD)).distinct()


def records_with_tokens(raw: DataFrame, shop_ids: DataFrame) -> DataFrame:
    """Records of ``raw`` (any format) with one of ``shop_ids`` as a whole token.

    For raw rows whose format is not known any more (a source renamed in conf).
    """
    ids = F.broadcast(shop_ids.select(F.col(SHOP_ID)))
    return (
        raw.select(S.RECORD, F.explode(F.split(S.RECORD, _TOKEN_SPLIT)).alias("_token"))
        .join(ids, F.col("_token") == F.col(SHOP_ID))
        .select(S.RECORD)
        .distinct()
    )


def scrub(text: str, needles: Iterable[str]) -> str:
    """``text`` with each of ``needles`` (as a whole token) replaced by ``[forgotten]``.

    For stored validation results and data docs, where a sample of values may hold
    an id: the document stays readable, the id is gone.

    >>> scrub('{"sample": ["u42", "u420"]}', ["u42"])
    '{"sample": ["[forgotten]", "u420"]}'
    """
    for needle in needles:
        text = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(needle)}(?![A-Za-z0-9_])", FORGOTTEN, text)
    return text


def erasure_token(shop_id: str, key: str) -> str:
    """A receipt for a forgotten user that is neither the id nor its pseudonym.

    The shop recomputes it (same id, same key) to show a request was carried out;
    without the key it reveals nothing.
    """
    return (
        "e_"
        + hmac.new(key.encode(), b"erasure:" + shop_id.encode(), hashlib.sha256).hexdigest()[:16]
    )
