from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import SparkSession

from shoprec import schemas as S
from shoprec.features.users import user_features
from tests.features.data import columns, ev, events_df, schema_columns

D = dt.date(2026, 11, 30)


def test_user_features(spark: SparkSession) -> None:
    items = spark.createDataFrame(
        [
            ("a1", "apparel", 1, 10.0),
            ("a2", "apparel", 3, 20.0),
            ("e1", "electronics", 5, 100.0),
            ("n1", None, None, 5.0),
        ],
        "item_id string, category_l1 string, price_band int, price double",
    )
    d28, d29, d20, d30 = (dt.datetime(2026, 11, d, 10) for d in (28, 29, 20, 30))
    events = events_df(
        spark,
        [
            ev("1", "view", "u1", "a1", d28, session_id="s1"),
            ev("2", "view", "u1", "a2", d28, session_id="s1"),
            ev("3", "view", "u1", "e1", d28, session_id="s1"),
            ev("4", "add_to_cart", "u1", "e1", d28, session_id="s1", quantity=2),
            ev("5", "purchase", "u1", "e1", d28, session_id="s1", quantity=2, price=90.0),
            ev("6", "search", "u1", None, d28, session_id="s1"),
            ev("7", "view", "u1", "n1", d29, session_id="s2"),
            ev("8", "purchase", "u1", "a2", d29, session_id="s2"),  # catalog price, qty 1
            ev("9", "view", "u1", "e1", d29, session_id="s2"),
            ev("10", "view", "u2", "a1", d20, session_id="s3"),
            ev("11", "view", "u2", "e1", d20, session_id="s3"),
            ev("12", "search", "u3", None, d30, session_id="s4"),
            ev("13", "view", "u4", "n1", d30, session_id="s5"),
            ev("14", "view", "u4", "a1", dt.datetime(2026, 12, 1), session_id="s6"),  # after D
        ],
    )
    out = user_features(events, items, as_of=D)
    assert columns(out) == schema_columns(S.USER_FEATURES)
    rows = {r[S.USER_ID]: r.asDict() for r in out.collect()}
    assert set(rows) == {"u1", "u2", "u3", "u4"}
    u1, u2, u3, u4 = (rows[u] for u in ("u1", "u2", "u3", "u4"))

    assert (u1["recency_days"], u1["frequency"], u1["events"]) == (1, 2, 9)
    assert u1["monetary"] == pytest.approx(90.0 * 2 + 20.0)
    # Item events with a category: apparel 3 (a1, a2 twice), electronics 4 of 7.
    assert u1["category_affinity"] == pytest.approx({"apparel": 3 / 7, "electronics": 4 / 7})
    assert u1["top_category"] == "electronics"
    assert u1["price_band"] == 3  # carted/purchased e1 (5) and a2 (3): lower median

    assert (u2["recency_days"], u2["frequency"], u2["events"], u2["monetary"]) == (10, 1, 2, 0.0)
    assert u2["category_affinity"] == pytest.approx({"apparel": 0.5, "electronics": 0.5})
    assert u2["top_category"] == "apparel"  # a tie goes to the first name
    assert u2["price_band"] == 1  # nothing carted: viewed a1 (1) and e1 (5)

    assert (u3["recency_days"], u3["events"], u3["category_affinity"]) == (0, 1, {})
    assert u3["top_category"] is None and u3["price_band"] is None
    assert u4["category_affinity"] == {} and u4["price_band"] is None and u4["events"] == 1

    for r in rows.values():
        if r["category_affinity"]:
            assert sum(r["category_affinity"].values()) == pytest.approx(1.0)
