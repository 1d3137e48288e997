"""The offline benchmark on tiny hand-written splits and sequences."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from shoprec.bench import offline
from shoprec.bench.offline import run_benchmark
from shoprec.errors import InputError

# Group A: users 0..29 on items 0..9 (the popular group); group B: users 30..39 on
# items 16..25 (ids 10..15 never occur, so n_items = 26 although 20 items are used).
GROUP_A = list(range(10))
GROUP_B = list(range(16, 26))
MODELS = ["popularity", "itemknn", "ease"]  # ALS adds ~10 s and is timed at scale instead


def _write(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _planted(folder: Path) -> tuple[str, str]:
    """Each user has 8 of its group's 10 items: 6 in train, 2 in test."""
    rng = random.Random(0)
    train, test = [], []
    for user in range(40):
        items = rng.sample(GROUP_A if user < 30 else GROUP_B, 8)
        train.append(" ".join(map(str, [user, *items[:6]])))
        test.append("\t".join(map(str, [user, *items[6:]])))
    train += ["", "99", "   "]  # blank lines and a user without items are fine
    return _write(folder / "train.txt", train), _write(folder / "test.txt", test)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return _planted(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="module")
def result(spark: SparkSession, planted: tuple[str, str]) -> dict[str, Any]:
    train, test = planted
    return run_benchmark(
        spark,
        train_path=train,
        test_path=test,
        sequences_path=None,
        models=MODELS,
        ks=[5, 10],
        params={"ease": {"reg": 10.0}},
    )


def test_neighbourhood_models_beat_popularity_on_planted_groups(result: dict[str, Any]) -> None:
    # Popularity shows group B the popular group A's items: it finds only group A's items.
    assert result["popularity"]["recall@5"] == pytest.approx(0.75)
    assert result["itemknn"]["recall@5"] == pytest.approx(1.0)
    assert result["ease"]["recall@5"] == pytest.approx(1.0)
    for name in ("itemknn", "ease"):
        for k in (5, 10):
            assert result[name][f"recall@{k}"] > result["popularity"][f"recall@{k}"]
            assert result[name][f"ndcg@{k}"] > result["popularity"][f"ndcg@{k}"]


def test_result_structure(result: dict[str, Any]) -> None:
    assert result["protocol"] == "fixed_split"
    assert result["n_users"] == 40
    assert result["n_items"] == 26  # largest item id + 1, ids need not be dense
    assert result["n_test_users"] == 40
    assert result["n_train_interactions"] == 240
    assert result["n_test_pairs_in_train"] == 0
    assert result["n_test_users_without_train"] == 0
    assert result["models"] == MODELS
    assert result["params"]["ease"] == {"reg": 10.0}
    assert result["params"]["itemknn"]["neighbours"] == 100  # the nightly grid's first entry
    for name in result["models"]:
        values = result[name]
        assert values["n_users"] == 40
        for key in ("fit_seconds", "score_seconds", "eval_seconds"):
            assert values[key] >= 0
        metrics = {k: v for k, v in values.items() if k != "n_users" and "seconds" not in k}
        assert {"recall@5", "ndcg@5", "recall@10", "ndcg@10", "mrr", "map@10"} <= set(metrics)
        assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in metrics.values())
    json.dumps(result, allow_nan=False)  # plain JSON
    text = offline.table(result)
    assert "recall@10" in text and "ndcg@5" in text and "itemknn" in text


def test_leave_one_out_on_hand_checked_sequences_through_main(
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(offline, "build_spark", lambda cfg: spark)
    # User 0 holds out 2, which always follows 1; users 1-4 hold out 5, never seen in
    # train; user 5 holds out 1, already in its train; user 6 has one item (train
    # only); user 7 has none (dropped).
    lines = ["0 1 2", *(f"{u} 1 2 5" for u in range(1, 5)), "5 1 2 1", "6 3", "7"]
    seqs = _write(tmp_path / "seqs.txt", lines)
    path = tmp_path / "out.json"
    argv = [
        "--sequences",
        seqs,
        "--models",
        "popularity,itemknn",
        "--k",
        "1,2",
        "--json",
        str(path),
    ]
    assert offline.main(argv) == 0
    out = json.loads(path.read_text())
    assert out["protocol"] == "leave_one_out"
    assert out["n_users"] == 7
    assert out["n_items"] == 6
    assert out["n_test_users"] == 6
    assert out["n_train_interactions"] == 12
    assert out["n_users_repeat_target"] == 1
    for name in ("popularity", "itemknn"):
        assert out[name]["hit_rate@1"] == pytest.approx(1 / 6)  # only user 0, at rank 1
        assert out[name]["mrr"] == pytest.approx(1 / 6)
    printed = capsys.readouterr().out
    assert "recall@1" in printed and "ndcg@2" in printed and "itemknn" in printed


def test_ease_over_max_items_is_skipped_not_fatal(
    spark: SparkSession, planted: tuple[str, str]
) -> None:
    train, test = planted
    out = run_benchmark(
        spark,
        train_path=train,
        test_path=test,
        sequences_path=None,
        models=["popularity", "ease"],
        ks=[10],
        params={"ease": {"reg": 10.0, "max_items": 2}},
    )
    assert set(out["ease"]) == {"skipped"}
    assert "max_items=2" in out["ease"]["skipped"]
    assert out["popularity"]["recall@10"] == pytest.approx(0.75)
    assert "ease: skipped:" in offline.table(out)


@pytest.mark.parametrize("bad", ["3 4 x5", "3 -4", "3 4.0", "3,4"])
def test_malformed_line_names_file_and_line(spark: SparkSession, tmp_path: Path, bad: str) -> None:
    train = _write(tmp_path / "train.txt", ["0 1 2", "", bad, "4 oops"])
    test = _write(tmp_path / "test.txt", ["0 3"])
    with pytest.raises(InputError, match=rf"{tmp_path}/train\.txt:3: expected .* got '"):
        run_benchmark(
            spark,
            train_path=train,
            test_path=test,
            sequences_path=None,
            models=["popularity"],
            ks=[10],
        )


def test_a_line_of_5000_items_is_read(spark: SparkSession, tmp_path: Path) -> None:
    """A public split's longest line held 3,583 items: one regex over the whole line
    overflowed the JVM's stack. Lines are checked token by token."""
    long_line = " ".join(str(i) for i in range(5001))  # user 0, then 5,000 items
    path = _write(tmp_path / "train.txt", [long_line, "7 1 2"])
    lists = {r["user_id"]: r["item_ids"] for r in offline.read_id_lists(spark, path).collect()}
    assert lists[0] == list(range(1, 5001)) and lists[7] == [1, 2]
    bad = _write(tmp_path / "bad.txt", ["7 1 2", long_line + " x9"])
    with pytest.raises(InputError, match=r"bad\.txt:2: expected .* got 'x9'"):
        offline.read_id_lists(spark, bad)


def test_bad_arguments_fail_before_spark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_spark(cfg: object) -> None:
        raise AssertionError("Spark started")

    monkeypatch.setattr(offline, "build_spark", no_spark)
    real = _write(tmp_path / "train.txt", ["0 1"])
    cases = {
        "--train needs --test": ["--train", real],
        "give --train and --test, or --sequences": [],
        "no such file": ["--train", real, "--test", str(tmp_path / "missing.txt")],
        "unknown model 'bpr'": ["--sequences", real, "--models", "popularity,bpr"],
        "--k": ["--sequences", real, "--k", "10,x"],
    }
    for message, argv in cases.items():
        with pytest.raises(InputError, match=message.replace("-", r"\-")):
            offline.main(argv)


def test_sequences_with_a_user_twice_is_rejected(spark: SparkSession, tmp_path: Path) -> None:
    seqs = _write(tmp_path / "seqs.txt", ["0 1 2", "3 1 2", "3 2 1"])
    with pytest.raises(InputError, match=r"seqs\.txt: user 3 has more than one line"):
        run_benchmark(
            spark,
            train_path=None,
            test_path=None,
            sequences_path=seqs,
            models=["popularity"],
            ks=[10],
        )
