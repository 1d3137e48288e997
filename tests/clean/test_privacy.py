from __future__ import annotations

import hashlib
import hmac

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from shoprec.clean.privacy import hmac_sha256_hex, pseudonym_of, pseudonymize


@pytest.mark.parametrize("key", ["short-key-0123456789", "k" * 64, "x" * 100, "ключ-ünïcode-key"])
def test_hmac_matches_python(spark: SparkSession, key: str) -> None:
    values = ["u1", "", "ünïcödé 用户", "a" * 200]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    got = [r[0] for r in df.select(hmac_sha256_hex(F.col("v"), key)).collect()]
    want = [hmac.new(key.encode(), v.encode(), hashlib.sha256).hexdigest() for v in values]
    assert got == want


def test_pseudonym_is_stable_keyed_and_null_safe(spark: SparkSession) -> None:
    df = spark.createDataFrame([("u1",), ("u1",), (None,)], "v string")
    a = [r[0] for r in df.select(pseudonymize(F.col("v"), "key-a-0123456789")).collect()]
    b = [r[0] for r in df.select(pseudonymize(F.col("v"), "key-b-0123456789")).collect()]
    assert a[0] == a[1] and a[0].startswith("p_") and len(a[0]) == 34
    assert a[2] is None
    assert a[0] != b[0]


def test_python_pseudonym_matches_spark(spark: SparkSession) -> None:
    df = spark.createDataFrame([("u000123",)], "v string")
    key = "key-a-0123456789"
    assert df.select(pseudonymize(F.col("v"), key)).first()[0] == pseudonym_of("u000123", key)  # type: ignore[index]
