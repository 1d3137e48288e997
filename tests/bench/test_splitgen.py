"""The generated fixed split: the public format, reproducible, disjoint, with structure."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from shoprec.bench.splitgen import SplitSpec, generate_split, write_split
from shoprec.errors import InputError

SMALL = SplitSpec(users=400, items=300, topics=10, mean_items_per_user=10, seed=3)


def test_same_seed_same_split() -> None:
    assert generate_split(SMALL) == generate_split(SMALL)
    assert generate_split(SMALL) != generate_split(SplitSpec(**{**SMALL.__dict__, "seed": 4}))


def test_every_user_has_disjoint_train_and_test_items() -> None:
    train, test = generate_split(SMALL)
    assert len(train) == len(test) == SMALL.users
    for tr, te in zip(train, test, strict=True):
        assert tr and te
        assert len(set(tr)) == len(tr) and len(set(te)) == len(te)
        assert not set(tr) & set(te)
        assert all(0 <= i < SMALL.items for i in tr + te)
    n_train, n_test = sum(map(len, train)), sum(map(len, test))
    assert 0.15 < n_test / (n_train + n_test) < 0.3
    assert 7 < (n_train + n_test) / SMALL.users < 13


def test_popularity_is_skewed_and_users_overlap() -> None:
    """A few items are popular, and neighbouring users share items."""
    train, _ = generate_split(SMALL)
    counts: dict[int, int] = {}
    for items in train:
        for i in items:
            counts[i] = counts.get(i, 0) + 1
    top = sorted(counts.values(), reverse=True)
    assert sum(top[: SMALL.items // 10]) > 0.3 * sum(top)  # top 10% of items: > 30% of pairs
    repeats = sum(len(set(a) & set(b)) for a, b in itertools.pairwise(train))
    assert repeats > 0  # users share items: there is something to learn from


def test_write_split_writes_the_benchmark_format(tmp_path: Path) -> None:
    sizes = write_split(SMALL, tmp_path)
    lines = (tmp_path / "train.txt").read_text().splitlines()
    assert len(lines) == SMALL.users and lines[0].split()[0] == "0"
    assert sizes["train_interactions"] == sum(len(x.split()) - 1 for x in lines)
    assert (tmp_path / "spec.json").is_file()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"users": 0}, "users and items must be > 0"),
        ({"test_share": 1.0}, "test_share"),
        ({"topics": 1000}, "topics"),
        ({"min_items_per_user": 1}, "min_items_per_user"),
    ],
)
def test_bad_spec_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        generate_split(SplitSpec(**{**SMALL.__dict__, **change}))  # type: ignore[arg-type]
