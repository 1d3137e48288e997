"""Tiny hand-made interaction data shared by the model tests."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest
from pyspark.sql import DataFrame, SparkSession

from shoprec import schemas as S

TRAIN_SCHEMA = f"{S.USER_IDX} long, {S.ITEM_IDX} long, {S.WEIGHT} double"


def frame(spark: SparkSession, rows: Iterable[tuple[int, int, float]]) -> DataFrame:
    """A train DataFrame from (user, item, weight) triples."""
    return spark.createDataFrame([(int(u), int(i), float(w)) for u, i, w in rows], TRAIN_SCHEMA)


def users_frame(spark: SparkSession, users: Iterable[int]) -> DataFrame:
    """A users DataFrame with one user_idx column."""
    return spark.createDataFrame([(int(u),) for u in users], f"{S.USER_IDX} long")


def recs_by_user(recs: DataFrame) -> dict[int, list[int]]:
    """Collected recommendations: user -> items in rank order (ranks checked to be 1..n)."""
    out: dict[int, list[tuple[int, int]]] = {}
    for r in recs.collect():
        out.setdefault(r[S.USER_IDX], []).append((r[S.RANK], r[S.ITEM_IDX]))
    result = {}
    for user, pairs in out.items():
        pairs.sort()
        assert [p[0] for p in pairs] == list(range(1, len(pairs) + 1)), (user, pairs)
        result[user] = [p[1] for p in pairs]
    return result


def dense(rows: Iterable[tuple[int, int, float]], n_users: int, n_items: int) -> np.ndarray:
    """The user-item matrix of (user, item, weight) triples."""
    x = np.zeros((n_users, n_items))
    for u, i, w in rows:
        x[u, i] = w
    return x


# Six users, six items: items 0,1,2 are bought together; 3,4 together; 5 by one user.
TINY: list[tuple[int, int, float]] = [
    (0, 0, 1.0), (0, 1, 1.0), (0, 2, 2.0),
    (1, 0, 1.0), (1, 1, 3.0),
    (2, 1, 1.0), (2, 2, 1.0),
    (3, 3, 1.0), (3, 4, 1.0),
    (4, 3, 2.0), (4, 4, 1.0), (4, 5, 1.0),
    (5, 0, 1.0), (5, 3, 1.0),
]  # fmt: skip
TINY_USERS, TINY_ITEMS = 6, 6


@pytest.fixture(scope="session")
def tiny(spark: SparkSession) -> DataFrame:
    return frame(spark, TINY).cache()


def planted(seed: int = 7) -> tuple[list[tuple[int, int, float]], dict[int, set[int]], int]:
    """Two user groups with disjoint item sets; returns (train, held-out items, n_items).

    Group A (users 0..19) uses items 0..9, group B (users 20..49, larger) items 10..19,
    so global popularity favours B's items. Within a group items are Zipf-popular; each
    user has 6 items, 4 in train and 2 held out.
    """
    rng = np.random.default_rng(seed)
    train: list[tuple[int, int, float]] = []
    held: dict[int, set[int]] = {}
    probs = 1.0 / np.arange(1, 11) ** 0.7
    probs /= probs.sum()
    for user in range(50):
        base = 0 if user < 20 else 10
        items = base + rng.choice(10, size=6, replace=False, p=probs)
        for i in items[:4]:
            train.append((user, int(i), float(rng.integers(1, 4))))
        held[user] = {int(i) for i in items[4:]}
    return train, held, 20
