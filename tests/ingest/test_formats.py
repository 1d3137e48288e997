from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from shoprec import schemas as S
from shoprec.clean.events import type_events
from shoprec.errors import InputError
from shoprec.ingest.formats import (
    EVENT_FIELDS,
    MALFORMED,
    get_format,
    read_completejourney_events,
    read_rees46,
)

DAY = dt.date(2026, 11, 1)


def bronze(spark: SparkSession, records: list[Any]) -> DataFrame:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    return spark.createDataFrame(
        [(x, "in.jsonl") for x in lines], "record string, source_file string"
    )


def typed_rows(fields: DataFrame) -> list[dict[str, Any]]:
    out = type_events(fields, run_date=DAY, max_lateness_days=3, future_tolerance_minutes=60)
    return [r.asDict() for r in out.orderBy(S.EVENT_ID).collect()]


SEGMENT = [
    {
        "messageId": "m1",
        "type": "track",
        "event": "Product Viewed",
        "userId": "u1",
        "timestamp": "2026-11-01T10:00:00.000Z",
        "properties": {"product_id": "i1", "price": 12.5, "currency": "usd"},
        "context": {"ip": "1.2.3.4", "userAgent": "Mozilla/5.0", "traits": {"email": "a@b.c"}},
    },
    {
        "messageId": "m2",
        "type": "track",
        "event": "Order Completed",
        "anonymousId": "anon-7",
        "timestamp": "2026-11-01T10:05:00Z",
        "properties": {
            "order_id": "o1",
            "currency": "USD",
            "products": [
                {"product_id": "i1", "price": 12.5, "quantity": 2},
                {"product_id": "i2", "price": 3, "quantity": 1},
            ],
        },
    },
    {
        "messageId": "m3",
        "event": "Products Searched",
        "userId": "u1",
        "timestamp": "2026-11-01T10:06:00Z",
        "properties": {"query": "blue shoes"},
    },
    {
        "messageId": "m4",
        "event": "Product Clicked",
        "userId": "u1",
        "timestamp": "2026-11-01T10:06:05Z",
        "properties": {"product_id": "i2", "position": 3, "query": "blue shoes"},
    },
    {"messageId": "m5", "event": "Signed Up", "userId": "u1", "timestamp": "2026-11-01T10:07:00Z"},
    {  # no messageId: no id, rather than one that every such order would share
        "event": "Order Completed",
        "userId": "u2",
        "timestamp": "2026-11-01T10:08:00Z",
        "properties": {"products": [{"product_id": "i3", "price": 1, "quantity": 1}]},
    },
    '{"messageId": "m6", "event": "Product',
]


def test_segment_maps_the_ecommerce_spec(spark: SparkSession) -> None:
    fields = get_format("segment").events_to_fields(bronze(spark, SEGMENT))
    assert fields.columns[: len(EVENT_FIELDS)] == list(EVENT_FIELDS)
    rows = typed_rows(fields)
    by_id = {r[S.EVENT_ID]: r for r in rows}
    assert by_id["m1"][S.EVENT_TYPE] == S.VIEW and by_id["m1"][S.CURRENCY] == "USD"
    # an order becomes one purchase per line, with stable ids
    assert (by_id["m2:0"][S.ITEM_ID], by_id["m2:0"][S.QUANTITY]) == ("i1", 2)
    assert (by_id["m2:1"][S.ITEM_ID], by_id["m2:1"][S.PRICE]) == ("i2", 3.0)
    assert by_id["m2:0"][S.USER_ID] == "anon-7"
    assert by_id["m3"][S.EVENT_TYPE] == S.SEARCH and by_id["m3"][S.QUERY] == "blue shoes"
    assert by_id["m4"][S.EVENT_TYPE] == S.SEARCH_CLICK and by_id["m4"][S.POSITION] == 3
    assert by_id["m5"][S.REASON] == S.UNKNOWN_EVENT_TYPE
    assert sorted(r[S.REASON] for r in rows if r[S.EVENT_ID] is None) == sorted(
        [S.MALFORMED_RECORD, S.MISSING_FIELD]
    )
    assert all(
        r[S.REASON] is None for r in rows if r[S.EVENT_ID] in ("m1", "m2:0", "m2:1", "m3", "m4")
    )


def test_rees46_csv_rows_are_kept_as_received(spark: SparkSession, tmp_path: Path) -> None:
    csv = tmp_path / "2019-Oct.csv"
    csv.write_text(
        "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"
        "2026-11-01 08:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde\n"
        "2026-11-01 08:00:01 UTC,cart,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,9333dfbd\n"
        "2026-11-01 08:00:01 UTC,cart,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,9333dfbd\n"
        "2026-11-01 08:00:02 UTC,purchase,17200506,2053013559792632471,furniture.living_room.sofa,,-543.10,519107250,566511c2\n"
    )
    raw = read_rees46(spark, str(csv))
    assert raw.count() == 4
    first = json.loads(raw.first()["record"])  # type: ignore[index]
    assert first["product_id"] == "44600062" and first["price"] == "35.79"
    fmt = get_format("rees46")
    rows = typed_rows(fmt.events_to_fields(raw))
    assert sorted(r[S.EVENT_TYPE] for r in rows) == [
        "add_to_cart",
        "add_to_cart",
        "purchase",
        "view",
    ]
    assert len({r[S.EVENT_ID] for r in rows}) == 3  # the repeated row has the same id
    assert [r[S.REASON] for r in rows if r[S.EVENT_TYPE] == S.PURCHASE] == [S.NEGATIVE_PRICE]
    items = {
        r[S.ITEM_ID]: r
        for r in fmt.items_to_fields(
            spark.createDataFrame([], "record string, source_file string"), raw
        ).collect()
    }
    assert items["3900821"][S.CATEGORY_PATH] == "appliances/environment/water_heater"
    assert items["44600062"][S.CATEGORY_PATH] == "category_2103807459595387724"


def test_rees46_missing_column_is_one_line(spark: SparkSession, tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("event_time,event_type,product_id\n2026-11-01 08:00:00 UTC,view,1\n")
    with pytest.raises(InputError, match="missing columns category_id"):
        read_rees46(spark, str(csv))


def test_completejourney_packaged_data(spark: SparkSession) -> None:
    raw = read_completejourney_events(spark, "builtin")
    day = raw.where("_day = DATE'2017-03-01'").drop("_day").limit(50)
    rows = typed_rows(get_format("completejourney").events_to_fields(day).where(f"not {MALFORMED}"))
    assert rows and all(r[S.EVENT_TYPE] == S.PURCHASE for r in rows)
    assert all(r[S.SESSION_ID] and r[S.USER_ID] for r in rows)
    priced = [r for r in rows if r[S.PRICE] is not None]
    assert priced and all(r[S.PRICE] >= 0 for r in priced)


def test_missing_input_and_unknown_format(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input path not found"):
        get_format("canonical").read_events(spark, str(tmp_path / "nope"))
    with pytest.raises(InputError, match="unknown source format 'xml'"):
        get_format("xml")
