"""Every model by name, built from conf (no Spark needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoprec.config import MODEL_NAMES, Settings
from shoprec.errors import ConfigError
from shoprec.models.factory import MODEL_CLASSES, build_model, candidate_grid
from shoprec.models.neural import NeuralRecommender


def test_every_model_name_has_a_class_and_a_grid() -> None:
    assert set(MODEL_CLASSES) == set(MODEL_NAMES)
    grid = candidate_grid(Settings().models)
    assert set(grid) == set(MODEL_NAMES)
    for name, settings in grid.items():
        assert settings, name
        model = build_model(name, settings[0], seed=3)
        assert isinstance(model, MODEL_CLASSES[name])


def test_neural_models_get_horovod_workers_and_per_fit_folders(tmp_path: Path) -> None:
    st = Settings().with_overrides({"models": {"neural": {"workers": 2, "epochs": 4, "dim": 8}}})
    for name in ("two_tower", "gru4rec", "sasrec", "lightgcn"):
        (params,) = candidate_grid(st.models)[name]
        model = build_model(name, params, seed=5, workdir=str(tmp_path / "test"))
        assert isinstance(model, NeuralRecommender)
        cfg = model.train_config
        assert (cfg.workers, cfg.epochs, cfg.seed, model.dim) == (2, 4, 5, 8)
        assert cfg.checkpoint_dir == str(tmp_path / "test" / "checkpoints" / name)
        assert cfg.cache_dir is None  # a temporary local folder per fit
        # checkpoints follow the lake wherever it is; the Petastorm cache where conf says
        remote = build_model(
            name, params, seed=5, workdir="s3a://b/lake/_models/x/_work/test", cache_dir="/mnt/c"
        )
        assert isinstance(remote, NeuralRecommender)
        assert (
            remote.train_config.checkpoint_dir
            == f"s3a://b/lake/_models/x/_work/test/checkpoints/{name}"
        )
        assert remote.train_config.cache_dir == "/mnt/c"


def test_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        build_model("bpr", {}, seed=1)


def test_candidate_grid_is_the_models_asked_for_in_that_order() -> None:
    st = Settings().with_overrides({"models": {"enabled": ["ease"], "als_reg_params": [0.1, 1.0]}})
    assert list(candidate_grid(st.models)) == ["ease"]
    grid = candidate_grid(st.models, ["als", "popularity"])
    assert list(grid) == ["als", "popularity"]
    assert [p["reg_param"] for p in grid["als"]] == [0.1, 1.0] and grid["popularity"] == [{}]


def test_per_model_neural_settings_override_and_unknown_ones_are_named() -> None:
    neural = {
        "patience": 2,
        "max_train_minutes": 1.5,
        "per_model": {"lightgcn": {"batch_size": 8192, "lr": 0.005}},
    }
    st = Settings().with_overrides({"models": {"neural": neural}})
    grid = candidate_grid(st.models)
    (gcn,) = grid["lightgcn"]
    (tower,) = grid["two_tower"]
    assert (gcn["batch_size"], gcn["lr"]) == (8192, 0.005)
    assert (tower["batch_size"], tower["lr"]) == (256, 1e-3)
    model = build_model("lightgcn", gcn, seed=1)
    assert isinstance(model, NeuralRecommender)
    cfg = model.train_config
    assert (cfg.batch_size, cfg.patience, cfg.max_seconds) == (8192, 2, 90.0)

    bad = Settings().with_overrides(
        {"models": {"neural": {"per_model": {"sasrec": {"batchsize": 1}}}}}
    )
    with pytest.raises(ConfigError, match=r"per_model\.sasrec: unknown setting\(s\) batchsize"):
        candidate_grid(bad.models)
