"""The MLflow registry on its embedded default: a SQLite store under a local lake."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoprec.config import RegistryConfig
from shoprec.errors import ConfigError
from shoprec.registry import Registry, mlflow_key, tracking_uri


def test_default_store_lives_under_the_lake(tmp_path: Path) -> None:
    uri = tracking_uri(RegistryConfig(), str(tmp_path / "lake"))
    assert uri == f"sqlite:///{tmp_path / 'lake' / '_registry' / 'mlflow.db'}"
    assert tracking_uri(RegistryConfig(tracking_uri="http://mlflow:5000"), "s3a://b/lake") == (
        "http://mlflow:5000"
    )
    with pytest.raises(ConfigError, match=r"registry\.tracking_uri"):
        tracking_uri(RegistryConfig(), "s3a://bucket/lake")


def test_log_register_promote_download(tmp_path: Path) -> None:
    reg = Registry(RegistryConfig(), str(tmp_path / "lake"))
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "meta.json").write_text('{"class": "EASE"}')
    assert reg.champion() is None

    run = reg.log_model_run(
        model_name="ease",
        params={"reg": 100.0},
        metrics={"ndcg@20": 0.25, "mrr": float("nan")},
        artifact_dir=model_dir,
        run_date="2026-11-03",
        run_id="r1",
    )
    v1 = reg.register(
        run,
        model_name="ease",
        params={"reg": 100.0},
        run_date="2026-11-03",
        run_id="r1",
        metric="ndcg@20",
        metric_value=0.25,
    )
    assert (v1.version, v1.model_name, v1.params, v1.metric_value) == (
        "1",
        "ease",
        {"reg": 100.0},
        0.25,
    )
    assert reg.champion() is None  # registered is not promoted
    reg.promote(v1.version)
    champion = reg.champion()
    assert champion is not None and champion.version == "1"
    got = reg.download(champion, tmp_path / "copy")
    assert (got / "meta.json").read_text() == '{"class": "EASE"}'
    assert mlflow_key("ndcg@20") == "ndcg_at_20"


def test_an_evaluate_rerun_logs_and_registers_a_fit_once(tmp_path: Path) -> None:
    reg = Registry(RegistryConfig(), str(tmp_path / "lake"))
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "meta.json").write_text("{}")

    def evaluate(fit_id: str, run_id: str) -> tuple[str, str]:
        logged = reg.log_model_run(
            model_name="ease",
            params={"reg": 100.0},
            metrics={"ndcg@20": 0.25},
            artifact_dir=model_dir,
            run_date="2026-11-03",
            run_id=run_id,
            fit_id=fit_id,
        )
        version = reg.register(
            logged,
            model_name="ease",
            params={"reg": 100.0},
            run_date="2026-11-03",
            run_id=run_id,
            metric="ndcg@20",
            metric_value=0.25,
        )
        return logged, version.version

    first = evaluate("r1/ease/aa", "r1")
    assert evaluate("r1/ease/aa", "r1") == first  # the task retried
    assert evaluate("r1/ease/aa", "manual") == first  # a manual rerun of evaluate
    retrained = evaluate("r2/ease/bb", "r2")  # train ran again: another model
    assert retrained[0] != first[0] and retrained[1] == "2"
