"""Pseudonymization: user ids and sources' session ids replaced by a keyed hash
(HMAC-SHA256).

The hash runs in the Python workers (a pandas UDF), with the key inside the pickled
function that Spark ships to them. It is never a literal of a Spark expression: a
native ``sha2`` HMAC needs the key's pads as literals, and a query plan (the Spark
UI's SQL tab, the event log, ``explain``) shows them, and so the key (a pad XOR 0x36
is the key). Here a plan shows only ``pseudonymize(user_id)``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

PREFIX = "p_"
DIGITS = 32  # hex digits of the HMAC a pseudonym keeps
SESSION_LABEL = "session:"  # what a source's session id is hashed under
_BLOCK = 64  # SHA-256's block size in bytes
# Distinct values a worker remembers the hashes of, per partition (~250 bytes each).
_CACHE = 200_000


def _hmac_udf(name: str, key: str, *, prefix: str, digits: int) -> Callable[[Column], Column]:
    """A pandas UDF named ``name``: ``prefix`` + the first ``digits`` hex digits of
    HMAC-SHA256(``key``, value); null stays null.

    User ids repeat heavily, so each Arrow batch hashes its distinct values once and
    maps them back, and a partition remembers the hashes of the values it has seen.
    HMAC's two SHA-256 states after the key's pads are made once per partition, in
    the worker (hashlib's states cannot be pickled), and copied for each value: half
    the work of ``hmac.digest``, which makes them again for every value.
    """
    secret = key.encode()

    def run(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        k = secret if len(secret) <= _BLOCK else hashlib.sha256(secret).digest()
        k = k.ljust(_BLOCK, b"\0")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in k))
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in k))
        seen: dict[str, str] = {}
        for values in batches:
            codes, uniques = pd.factorize(values)  # nulls get code -1
            out: list[str | None] = []
            for v in uniques:
                p = seen.get(v)
                if p is None:
                    h = inner.copy()
                    h.update(v.encode())
                    o = outer.copy()
                    o.update(h.digest())
                    p = prefix + o.hexdigest()[:digits]
                    if len(seen) < _CACHE:
                        seen[v] = p
                out.append(p)
            out.append(None)  # code -1: null in, null out
            yield pd.Series(np.array(out, dtype=object)[codes], index=values.index)

    run.__name__ = run.__qualname__ = name  # what a plan shows: name(column)
    udf: Callable[[Column], Column] = F.pandas_udf(run, StringType())  # type: ignore[call-overload]
    return udf


def hmac_sha256_hex(value: Column, key: str) -> Column:
    """HMAC-SHA256 of a string column as 64 hex digits, equal to Python's ``hmac``."""
    return _hmac_udf("hmac_sha256_hex", key, prefix="", digits=64)(value)


def pseudonymize(user_id: Column, key: str) -> Column:
    """A stable pseudonym ``p_<32 hex>`` for a user id; null stays null."""
    return _hmac_udf("pseudonymize", key, prefix=PREFIX, digits=DIGITS)(user_id)


def pseudonymize_session(session_id: Column, key: str) -> Column:
    """A stable ``s_<32 hex>`` for a session id the source sent; null stays null.

    A source's session id (a cookie's UUID, a basket number) links a silver row back
    to the shop's own logs, and a small number is guessed by trying them all: it is
    keyed like a user id, under its own label, so a session and a user id that
    happen to be the same string get different pseudonyms.
    """
    labelled = F.concat(F.lit(SESSION_LABEL), session_id)
    return _hmac_udf("pseudonymize_session", key, prefix="s_", digits=DIGITS)(labelled)


def pseudonym_of(user_id: str, key: str) -> str:
    """The pseudonym :func:`pseudonymize` gives ``user_id``, computed in Python.

    The shop's services use this (with the same key) to look a user up in the
    serving tables, which hold pseudonyms only.
    """
    return PREFIX + hmac.new(key.encode(), user_id.encode(), hashlib.sha256).hexdigest()[:DIGITS]
