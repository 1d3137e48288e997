"""Pseudonymization: user ids replaced by a keyed hash (HMAC-SHA256) in Spark SQL."""

from __future__ import annotations

import hashlib
import hmac

from pyspark.sql import Column
from pyspark.sql import functions as F

_BLOCK = 64  # SHA-256 block size in bytes


def _pads(key: str) -> tuple[str, str]:
    k = key.encode()
    if len(k) > _BLOCK:
        k = hashlib.sha256(k).digest()
    k = k.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in k).hex(), bytes(b ^ 0x5C for b in k).hex()


def hmac_sha256_hex(value: Column, key: str) -> Column:
    """HMAC-SHA256 of a string column as 64 hex digits, equal to Python's ``hmac``.

    Built from Spark's native ``sha2`` so it runs in the JVM without a Python UDF:
    ``H((K ^ opad) || H((K ^ ipad) || m))``.
    """
    ipad, opad = _pads(key)
    inner = F.unhex(F.sha2(F.concat(F.unhex(F.lit(ipad)), F.encode(value, "UTF-8")), 256))
    return F.sha2(F.concat(F.unhex(F.lit(opad)), inner), 256)


def pseudonymize(user_id: Column, key: str) -> Column:
    """A stable pseudonym ``p_<32 hex>`` for a user id; null stays null."""
    return F.when(
        user_id.isNotNull(), F.concat(F.lit("p_"), hmac_sha256_hex(user_id, key).substr(1, 32))
    )


def pseudonym_of(user_id: str, key: str) -> str:
    """The pseudonym :func:`pseudonymize` gives ``user_id``, computed in Python.

    The shop's services use this (with the same key) to look a user up in the
    serving tables, which hold pseudonyms only.
    """
    return "p_" + hmac.new(key.encode(), user_id.encode(), hashlib.sha256).hexdigest()[:32]
