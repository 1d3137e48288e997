"""The neural recommenders on the shared contract: planted taste, exclusions, persistence.

Each model is fitted once per module on the planted two-group data and asked once
for recommendations (with exclusions and an unknown user); Spark jobs that start
Python workers with torch are the slow part, so the tests share that output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from shoprec import schemas as S
from shoprec.models.neural import GRU4Rec, LightGCN, NeuralRecommender, SASRec, TwoTower

from ..conftest import frame, planted, users_frame

K = 3
# Four of the 20 items are each user's training items; 2 of the other 16 are held out.
RANDOM_PRECISION = 2 / 16
UNKNOWN_USER = 999
BANNED_USER = 0  # group A: every unseen group-A item but two is excluded for this user
SEQUENCE_MODELS = {"gru4rec", "sasrec"}

FACTORIES: dict[str, Callable[[], NeuralRecommender]] = {
    "twotower": lambda: TwoTower(dim=16, epochs=30, batch_size=32, lr=0.01, seed=1),
    "gru4rec": lambda: GRU4Rec(dim=16, epochs=40, batch_size=16, lr=0.01, max_len=5, seed=1),
    "sasrec": lambda: SASRec(dim=16, epochs=40, batch_size=16, lr=0.01, max_len=5, seed=1),
    "lightgcn": lambda: LightGCN(dim=16, epochs=40, batch_size=64, lr=0.05, seed=1),
}


@dataclass
class Planted:
    train: DataFrame
    held: dict[int, set[int]]
    seen: dict[int, set[int]]
    n_items: int
    users: DataFrame
    exclude: DataFrame
    banned: set[int]


@dataclass
class Fitted:
    model: NeuralRecommender
    recs: list[tuple[int, int, float, int]]  # recommend(users, K, exclude=...) collected


@pytest.fixture(scope="module")
def data(spark: SparkSession) -> Planted:
    rows, held, n_items = planted()
    seen: dict[int, set[int]] = {}
    for u, i, _ in rows:
        seen.setdefault(u, set()).add(i)
    banned = sorted(set(range(10)) - seen[BANNED_USER])[2:]
    exclude = spark.createDataFrame(
        [(BANNED_USER, i) for i in banned], f"{S.USER_IDX} long, {S.ITEM_IDX} long"
    )
    users = users_frame(spark, [*held, UNKNOWN_USER])
    return Planted(frame(spark, rows).cache(), held, seen, n_items, users, exclude, set(banned))


@pytest.fixture(scope="module")
def fitted(data: Planted) -> dict[str, Fitted]:
    out = {}
    for name, make in FACTORIES.items():
        model = make().fit(data.train, n_items=data.n_items)
        recs = model.recommend(data.users, K, exclude=data.exclude).collect()
        out[name] = Fitted(model, sorted(tuple(r) for r in recs))
    return out


def _by_user(rows: list[tuple[int, int, float, int]]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for user, item, _, rank in sorted(rows, key=lambda r: (r[0], r[3])):
        out.setdefault(user, []).append(item)
        assert rank == len(out[user])
    return out


def _precision(recs: dict[int, list[int]], held: dict[int, set[int]]) -> float:
    hits = sum(len(set(recs.get(u, [])) & items) for u, items in held.items())
    return hits / (K * len(held))


@pytest.mark.parametrize("name", list(FACTORIES))
def test_planted_taste_beats_random_and_exclusions_hold(
    name: str, fitted: dict[str, Fitted], data: Planted
) -> None:
    model = fitted[name].model
    assert model.train_result is not None
    losses = model.train_result.losses
    assert len(losses) == model.train_config.epochs and losses[-1] < losses[0]

    recs = _by_user(fitted[name].recs)
    assert set(recs) == set(data.held)  # the unknown user gets nothing
    in_group = 0
    for user, items in recs.items():
        assert len(items) == K and not set(items) & data.seen[user], (name, user, items)
        group = range(0, 10) if user < 20 else range(10, 20)
        in_group += all(i in group for i in items)
    assert not set(recs[BANNED_USER]) & data.banned
    # By chance all three of a user's lists fall in its own group for ~4% of users
    # (6 of the 16 unseen items are). The planted data are sets, not sequences: the
    # sequence models must extrapolate past the last trained position, and across
    # seeds 1-8 GRU4Rec puts 72-96% of users wholly in their group (at seed 1, 86%).
    floor = 0.7 if name in SEQUENCE_MODELS else 0.9
    assert in_group >= floor * len(recs), (name, in_group)
    assert _precision(recs, data.held) > 2 * RANDOM_PRECISION, (name, _precision(recs, data.held))


@pytest.mark.parametrize("name", list(FACTORIES))
def test_save_load_round_trip_gives_identical_recommendations(
    name: str, fitted: dict[str, Fitted], data: Planted, tmp_path: Path
) -> None:
    model = fitted[name].model
    model.save(tmp_path / name)
    loaded = type(model).load(tmp_path / name)
    assert loaded.params() == model.params()
    after = sorted(
        tuple(r) for r in loaded.recommend(data.users, K, exclude=data.exclude).collect()
    )
    before = fitted[name].recs
    assert [(u, i, r) for u, i, _, r in after] == [(u, i, r) for u, i, _, r in before]
    assert [r[2] for r in after] == pytest.approx([r[2] for r in before], rel=1e-5)

    similar = loaded.similar_items(2).collect()
    assert similar and all(r[S.ITEM_IDX] != r["similar_item_idx"] for r in similar)
    assert {r[S.RANK] for r in similar} <= {1, 2}
    loaded.release()


def test_two_tower_uses_item_features_when_given(spark: SparkSession, data: Planted) -> None:
    features = spark.createDataFrame(
        [(i, "a" if i < 10 else "b", 1 + i % 5) for i in range(data.n_items)],
        f"{S.ITEM_IDX} long, category_l1 string, price_band int",
    )
    model = TwoTower(dim=8, epochs=2, batch_size=64, seed=3, item_features=features)
    model.fit(data.train, n_items=data.n_items)
    assert model.net is not None
    assert model.net.category_emb is not None and model.net.band_emb is not None
    assert int(model.net.item_category.max()) == 2  # codes 1, 2; 0 is unknown

    with pytest.raises(ValueError, match="neither"):
        TwoTower(dim=8, epochs=1).fit(
            data.train, n_items=data.n_items, item_features=features.select(S.ITEM_IDX)
        )


def test_constructor_rejects_bad_hyperparameters() -> None:
    with pytest.raises(ValueError, match="dim"):
        TwoTower(dim=0)
    with pytest.raises(ValueError, match="heads"):
        SASRec(dim=10, heads=3)
    with pytest.raises(ValueError, match="workers"):
        LightGCN(workers=-1)
    with pytest.raises(ValueError, match="backend"):
        GRU4Rec(backend="mpi")


@pytest.mark.parametrize("name", list(FACTORIES))
def test_early_stopping_validates_on_held_back_items_and_serves_full_histories(
    name: str, data: Planted
) -> None:
    model = FACTORIES[name]()
    model.train_config = replace(model.train_config, patience=2)
    model.fit(data.train, n_items=data.n_items)
    result = model.train_result
    assert result is not None and result.best_epoch is not None
    assert len(result.scores) == len(result.losses) <= model.train_config.epochs
    assert result.scores[result.best_epoch - 1] == max(result.scores)
    stopped_early = len(result.scores) < model.train_config.epochs
    assert stopped_early == (len(result.scores) - result.best_epoch >= 2)
    # the held-back items were only hidden from training: serving still excludes them
    recs = _by_user(sorted(tuple(r) for r in model.recommend(data.users, K).collect()))
    assert recs and all(not set(items) & data.seen[user] for user, items in recs.items())
