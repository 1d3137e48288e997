from __future__ import annotations

import hashlib
import hmac

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shoprec.clean.privacy import hmac_sha256_hex, pseudonym_of, pseudonymize
from tests.leaks import Scan, secret_forms


@pytest.mark.parametrize("key", ["short-key-0123456789", "k" * 64, "x" * 100, "ключ-ünïcode-key"])
def test_hmac_matches_python(spark: SparkSession, key: str) -> None:
    values = ["u1", "", "ünïcödé 用户", "a" * 200]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    got = [r[0] for r in df.select(hmac_sha256_hex(F.col("v"), key)).collect()]
    want = [hmac.new(key.encode(), v.encode(), hashlib.sha256).hexdigest() for v in values]
    assert got == want


def test_pseudonym_is_stable_keyed_and_null_safe(spark: SparkSession) -> None:
    df = spark.createDataFrame([("u1",), ("u1",), (None,), ("u2",), (None,)], "v string")
    a = [r[0] for r in df.select(pseudonymize(F.col("v"), "key-a-0123456789")).collect()]
    b = [r[0] for r in df.select(pseudonymize(F.col("v"), "key-b-0123456789")).collect()]
    assert a[0] == a[1] and a[0].startswith("p_") and len(a[0]) == 34
    assert a[2] is None and a[4] is None
    assert a[3] != a[0]
    assert a[0] != b[0]


def test_python_pseudonym_matches_spark(spark: SparkSession) -> None:
    df = spark.createDataFrame([("u000123",)], "v string")
    key = "key-a-0123456789"
    assert df.select(pseudonymize(F.col("v"), key)).first()[0] == pseudonym_of("u000123", key)  # type: ignore[index]


def _plans(df: DataFrame) -> str:
    """Every plan Spark keeps of ``df``: parsed, analyzed, optimized and physical."""
    return str(df._jdf.queryExecution().toString())


def test_the_key_is_in_no_plan(spark: SparkSession) -> None:
    key = "plan-key-0123456789-abcdef"
    df = spark.createDataFrame([("u1",), (None,)], "user_id string")
    out = df.withColumn("user_id", pseudonymize(F.col("user_id"), key))
    assert out.first()["user_id"] == pseudonym_of("u1", key)  # type: ignore[index]
    plans = _plans(out)
    assert "== Physical Plan ==" in plans and "pseudonymize(user_id" in plans  # a named UDF
    scan = Scan.of(key)
    scan.text(plans, "plans")
    assert scan.hits == []


def test_the_scan_finds_a_pad_in_a_plan(spark: SparkSession) -> None:
    """What the native HMAC did: its pads as literals, so any plan gave the key back."""
    key = "plan-key-0123456789-abcdef"
    ipad = secret_forms(key)["ipad hex"].decode().ljust(128, "6")  # padded to 64 bytes
    df = spark.range(1).select(F.sha2(F.unhex(F.lit(ipad)), 256))
    scan = Scan.of(key)
    scan.text(_plans(df), "plans")
    assert {h.form for h in scan.hits} == {"ipad hex"}
