from __future__ import annotations

import json

from pyspark.sql import SparkSession

from shoprec import schemas as S
from shoprec.clean.erasure import (
    FORGOTTEN,
    SHOP_ID,
    erasure_token,
    raw_records_of,
    records_with_tokens,
    scrub,
)
from shoprec.clean.privacy import pseudonym_of

KEY = "test-pseudonymization-key-0123456789"


def raw(spark: SparkSession, records: list[str]):  # type: ignore[no-untyped-def]
    return spark.createDataFrame(
        [(r, "in.jsonl") for r in records], f"{S.RECORD} string, {S.SOURCE_FILE} string"
    )


def ids(spark: SparkSession, *values: str):  # type: ignore[no-untyped-def]
    return spark.createDataFrame([(v,) for v in values], f"{SHOP_ID} string")


def test_raw_records_are_matched_by_their_parsed_user_or_by_a_token_when_broken(
    spark: SparkSession,
) -> None:
    mine = json.dumps(
        {"messageId": "m1", "event": "Product Viewed", "userId": "u42", "timestamp": "t"}
    )
    order = json.dumps(
        {
            "messageId": "m2",
            "event": "Order Completed",
            "userId": "u42",
            "properties": {"products": [{"product_id": "a"}, {"product_id": "b"}]},
        }
    )
    other = json.dumps(  # another user's record that mentions 42 elsewhere
        {"messageId": "m3", "event": "Product Viewed", "userId": "u7", "properties": {"u": "u42"}}
    )
    broken = '{"messageId": "m4", "userId": "u42", "event": "Prod'
    broken_other = '{"messageId": "m5", "userId": "u420", "event": "Prod'
    rows = raw(spark, [mine, order, other, broken, broken_other])
    found = {r[0] for r in raw_records_of(rows, "segment", ids(spark, "u42")).collect()}
    assert found == {mine, order, broken}
    # a source whose format is unknown now: whole tokens only
    tokens = {r[0] for r in records_with_tokens(rows, ids(spark, "u42")).collect()}
    assert tokens == {mine, order, other, broken}


def test_scrub_replaces_whole_ids_only() -> None:
    p = pseudonym_of("u42", KEY)
    text = f'<td>u42</td><td>u420</td> "{p}"'
    assert scrub(text, ["u42", p]) == f'<td>{FORGOTTEN}</td><td>u420</td> "{FORGOTTEN}"'


def test_the_receipt_is_stable_and_is_neither_the_id_nor_its_pseudonym() -> None:
    receipt = erasure_token("u42", KEY)
    assert receipt == erasure_token("u42", KEY) != erasure_token("u43", KEY)
    assert "u42" not in receipt and receipt[2:] not in pseudonym_of("u42", KEY)
