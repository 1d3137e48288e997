"""The in-process training path: configuration checks, checkpoints and exact resume."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from pyspark.sql import DataFrame, SparkSession

from shoprec.models.neural import GRU4Rec, TwoTower
from shoprec.models.neural.twotower import HIST, HIST_W, ITEM, TwoTowerNet
from shoprec.training import LOCAL, TrainConfig, train
from shoprec.training import checkpoint as ckpt

N_ITEMS = 6
BUILD = partial(TwoTowerNet, n_items=N_ITEMS, dim=4, temperature=0.5, log_q=np.zeros(N_ITEMS))


def _examples(spark: SparkSession) -> DataFrame:
    rows = [
        (i % N_ITEMS, [(i + 1) % N_ITEMS, (i + 2) % N_ITEMS, N_ITEMS], [1.0, 0.5, 0.0])
        for i in range(48)
    ]
    return spark.createDataFrame(rows, f"{ITEM} long, {HIST} array<long>, {HIST_W} array<float>")


def test_config_checks_and_backend_choice() -> None:
    assert TrainConfig(workers=0).resolved_backend == LOCAL
    assert TrainConfig(workers=1).resolved_backend == LOCAL
    assert TrainConfig(workers=2).resolved_backend == "horovod"
    assert TrainConfig(workers=1, backend="horovod").ranks == 1
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="local"):
        TrainConfig(workers=2, backend="local")


def test_rerun_after_epoch_one_resumes_at_epoch_two_exactly(
    spark: SparkSession, tmp_path: Path
) -> None:
    examples = _examples(spark).cache()
    folder = str(tmp_path / "ckpt")
    stopped = train(
        BUILD, examples, TrainConfig(epochs=1, batch_size=8, checkpoint_dir=folder), signature="a"
    )
    assert stopped.start_epoch == 0 and len(stopped.losses) == 1
    assert sorted(p.name for p in Path(folder).iterdir()) == ["epoch-0001.pt"]

    resumed = train(
        BUILD, examples, TrainConfig(epochs=3, batch_size=8, checkpoint_dir=folder), signature="a"
    )
    assert resumed.start_epoch == 1 and resumed.examples == 2 * 48
    assert resumed.losses[0] == stopped.losses[0] and len(resumed.losses) == 3
    assert sorted(p.name for p in Path(folder).iterdir()) == ["epoch-0002.pt", "epoch-0003.pt"]

    straight = train(BUILD, examples, TrainConfig(epochs=3, batch_size=8), signature="a")
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-6)
    for key, value in straight.state.items():
        torch.testing.assert_close(resumed.state[key], value, rtol=1e-6, atol=1e-7)

    other = train(
        BUILD, examples, TrainConfig(epochs=1, batch_size=8, checkpoint_dir=folder), signature="b"
    )
    assert other.start_epoch == 0  # another model's checkpoint is never resumed
    examples.unpersist()


class ScriptedValidator:
    """Validation scores from a script, one per call; records each call's parameters."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = list(scores)
        self.states: list[dict[str, torch.Tensor]] = []

    def __call__(self, net: torch.nn.Module) -> float:
        self.states.append({k: v.clone() for k, v in net.state_dict().items()})
        return self.scores[len(self.states) - 1]


def test_early_stopping_keeps_the_best_epoch_and_resumes_where_it_stopped(
    spark: SparkSession, tmp_path: Path
) -> None:
    examples = _examples(spark).cache()
    scores = [0.1, 0.3, 0.2, 0.25, 0.5, 0.6]
    cfg = TrainConfig(epochs=6, batch_size=8, patience=2)
    validate = ScriptedValidator(scores)
    result = train(BUILD, examples, cfg, signature="a", validate=validate)
    # epochs 3 and 4 do not beat epoch 2: training stops after epoch 4 with epoch 2
    assert result.scores == [0.1, 0.3, 0.2, 0.25] and result.best_epoch == 2
    assert len(result.losses) == 4 and result.examples == 4 * 48
    for key, value in validate.states[1].items():
        torch.testing.assert_close(result.state[key], value)

    # killed after epoch 3: the rerun continues, stops at the same epoch, same result
    folder = str(tmp_path / "ckpt")
    first = ScriptedValidator(scores)
    train(
        BUILD,
        examples,
        TrainConfig(epochs=3, batch_size=8, patience=2, checkpoint_dir=folder),
        signature="a",
        validate=first,
    )
    rest = ScriptedValidator(scores[3:])
    resumed = train(
        BUILD,
        examples,
        TrainConfig(epochs=6, batch_size=8, patience=2, checkpoint_dir=folder),
        signature="a",
        validate=rest,
    )
    assert resumed.scores == result.scores and resumed.best_epoch == 2
    assert len(rest.states) == 1  # only epoch 4 was trained and scored again
    for key, value in result.state.items():
        torch.testing.assert_close(resumed.state[key], value, rtol=1e-6, atol=1e-7)
    # a rerun after the stop trains nothing and returns the best epoch again
    again = train(
        BUILD,
        examples,
        TrainConfig(epochs=6, batch_size=8, patience=2, checkpoint_dir=folder),
        signature="a",
        validate=ScriptedValidator([]),
    )
    assert again.examples == 0 and again.best_epoch == 2
    for key, value in result.state.items():
        torch.testing.assert_close(again.state[key], value, rtol=1e-6, atol=1e-7)
    examples.unpersist()


def test_validation_added_to_a_resumed_run_counts_from_where_it_resumes(
    spark: SparkSession, tmp_path: Path
) -> None:
    examples = _examples(spark).cache()
    folder = str(tmp_path / "ckpt")
    cfg = TrainConfig(epochs=2, batch_size=8, checkpoint_dir=folder)
    train(BUILD, examples, cfg, signature="a")  # two epochs, no validator
    more = TrainConfig(epochs=6, batch_size=8, patience=2, checkpoint_dir=folder)
    result = train(
        BUILD, examples, more, signature="a", validate=ScriptedValidator([0.2, 0.1, 0.1])
    )
    assert result.start_epoch == 2 and result.best_epoch == 3
    assert np.isnan(result.scores[:2]).all() and result.scores[2:] == [0.2, 0.1, 0.1]
    examples.unpersist()


def test_a_training_budget_stops_before_an_epoch_that_would_overrun_it(
    spark: SparkSession,
) -> None:
    examples = _examples(spark).cache()

    def slow(net: torch.nn.Module) -> float:  # each epoch takes at least 0.3 s
        time.sleep(0.3)
        return 0.5

    cfg = TrainConfig(epochs=50, batch_size=8, max_seconds=1.0)
    result = train(BUILD, examples, cfg, signature="a", validate=slow)
    assert 1 <= len(result.losses) <= 3 and result.best_epoch == 1
    with pytest.raises(ValueError, match="max_seconds"):
        TrainConfig(max_seconds=0)
    examples.unpersist()


def test_latest_checkpoint_ignores_other_signatures_and_partial_files(tmp_path: Path) -> None:
    net = BUILD()
    opt = torch.optim.Adam(net.parameters())
    state = {"model_state": net.state_dict(), "optimizer_state": opt.state_dict()}
    ckpt.save(tmp_path, epoch=1, signature="x", losses=[1.0], **state)
    ckpt.save(tmp_path, epoch=2, signature="y", losses=[1.0, 0.5], **state)
    (tmp_path / ".epoch-0003.pt.tmp").write_bytes(b"killed while writing")
    found = ckpt.latest(tmp_path, "x")
    assert found is not None and found.epoch == 1 and found.losses == [1.0]
    assert ckpt.latest(tmp_path, "z") is None
    assert ckpt.latest(tmp_path / "missing", "x") is None


def test_model_checkpoints_resume_across_epochs_and_workers_but_not_dims() -> None:
    base = TwoTower(dim=8, epochs=1)._signature()
    assert TwoTower(dim=8, epochs=10, workers=2, threads=None)._signature() == base
    assert TwoTower(dim=16, epochs=1)._signature() != base
    assert TwoTower(dim=8, epochs=1, lr=0.5)._signature() != base
    assert GRU4Rec(dim=8, epochs=1)._signature() != base
