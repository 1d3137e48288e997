"""Experiment tracking and the model registry, on MLflow.

Every model trained for a date is an MLflow run in the ``registry.experiment``
experiment: its hyperparameters, its validation and test metrics, and the saved model
folder as the run's ``model`` artifact. Tonight's best model becomes a new version of
the registered model ``registry.registered_model``; the version that serves carries the
alias ``registry.champion_alias`` ("champion"), moved only when that version's lists are
published (:func:`shoprec.stages.publish.publish`).

The embedded default is a SQLite store and an artifact folder under a local lake
(``<lake>/_registry/``), so a laptop or CI needs no server. With a lake on object
storage, ``registry.tracking_uri`` names the tracking server, whose artifact store (on
the same object store, typically) holds the models: a SQLite file cannot live in a
bucket, and a file on one node's disk would be another registry on every node a
driver lands on.

MLflow metric names may not contain ``@``: ``ndcg@20`` is logged as ``ndcg_at_20``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoprec.config import RegistryConfig
from shoprec.errors import ConfigError
from shoprec.lake import Storage, is_local, local_path

log = logging.getLogger(__name__)

REGISTRY_DIR = "_registry"
ARTIFACT_PATH = "model"
# Tags on a model version: what the pipeline needs to rebuild and describe it.
TAG_MODEL_NAME = "shoprec.model_name"
TAG_PARAMS = "shoprec.params"
TAG_RUN_DATE = "shoprec.run_date"
TAG_RUN_ID = "shoprec.run_id"
TAG_METRIC = "shoprec.gate_metric"
TAG_METRIC_VALUE = "shoprec.gate_metric_value"
TAG_FIT_ID = "shoprec.fit_id"  # one saved model: a rerun of evaluate logs it once


def mlflow_key(name: str) -> str:
    """A metric or parameter name MLflow accepts (``ndcg@20`` -> ``ndcg_at_20``)."""
    return name.replace("@", "_at_")


def tracking_uri(cfg: RegistryConfig, lake_root: str) -> str:
    """The configured tracking URI, or the SQLite store under a local lake."""
    if cfg.tracking_uri:
        return cfg.tracking_uri
    if not is_local(lake_root):
        raise ConfigError(
            f"registry.tracking_uri: required when lake.root is on object storage "
            f"({lake_root}); give the MLflow tracking server"
        )
    root = _local_dir(lake_root)
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}"


def _local_dir(lake_root: str) -> Path:
    """The embedded store's folder under a local lake."""
    return Path(local_path(lake_root)) / REGISTRY_DIR


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: which model, with which settings, from which night."""

    version: str
    model_name: str
    params: dict[str, Any]
    run_date: str
    run_id: str
    metric: str | None
    metric_value: float | None
    mlflow_run_id: str | None


class Registry:
    """The project's view of an MLflow tracking store and model registry."""

    def __init__(self, cfg: RegistryConfig, lake_root: str) -> None:
        # Imported here: mlflow is slow to import and only the model stages need it.
        from mlflow.tracking import MlflowClient

        self.cfg = cfg
        self.uri = tracking_uri(cfg, lake_root)
        self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        self._artifacts = None if cfg.tracking_uri else _local_dir(lake_root) / "artifacts"

    # ----------------------------------------------------------------- tracking
    def _experiment_id(self) -> str:
        exp = self._client.get_experiment_by_name(self.cfg.experiment)
        if exp is not None:
            return str(exp.experiment_id)
        location = self._artifacts.as_uri() if self._artifacts is not None else None
        return str(self._client.create_experiment(self.cfg.experiment, location))

    def log_model_run(
        self,
        *,
        model_name: str,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        artifact_dir: str | Path | None,
        run_date: str,
        run_id: str,
        storage: Storage | None = None,
        fit_id: str | None = None,
    ) -> str:
        """One MLflow run for one trained model; returns the MLflow run id.

        ``artifact_dir``: the saved model's folder, a local path or a lake URI (read
        through ``storage``), logged as the run's ``model`` artifact. ``fit_id``: the
        fit train saved; when a finished run already holds it (evaluate rerun for the
        date, or retried after a kill), that run is returned and nothing is logged.
        """
        from mlflow.entities import Metric, Param, RunTag

        experiment = self._experiment_id()
        if fit_id is not None:
            logged = self._client.search_runs(
                [experiment],
                filter_string=f"tags.`{TAG_FIT_ID}` = '{fit_id}' and attributes.status = 'FINISHED'",
                max_results=1,
            )
            if logged:
                return str(logged[0].info.run_id)
        tags = {TAG_MODEL_NAME: model_name, TAG_RUN_DATE: run_date, TAG_RUN_ID: run_id}
        run = self._client.create_run(
            experiment,
            run_name=f"{model_name} {run_date}",
            tags={**tags, **({TAG_FIT_ID: fit_id} if fit_id is not None else {})},
        )
        rid = run.info.run_id
        now = int(run.info.start_time)
        self._client.log_batch(
            rid,
            metrics=[
                Metric(mlflow_key(k), float(v), now, 0)
                for k, v in metrics.items()
                if v == v  # NaN: a metric over no users
            ],
            params=[Param(mlflow_key(k), str(v)[:500]) for k, v in params.items()],
            tags=[RunTag(TAG_PARAMS, json.dumps(dict(params), sort_keys=True, default=str))],
        )
        if artifact_dir is not None:
            folder = str(artifact_dir)
            if is_local(folder):
                self._client.log_artifacts(rid, local_path(folder), ARTIFACT_PATH)
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    (storage or Storage()).download(folder, tmp)
                    self._client.log_artifacts(rid, tmp, ARTIFACT_PATH)
        self._client.set_terminated(rid)
        return str(rid)

    # ----------------------------------------------------------------- registry
    def register(
        self,
        mlflow_run_id: str,
        *,
        model_name: str,
        params: Mapping[str, Any],
        run_date: str,
        run_id: str,
        metric: str,
        metric_value: float,
    ) -> ModelVersion:
        """A new version of the registered model from a logged run (the version that run
        already has, if it was registered before: an evaluate rerun adds none)."""
        from mlflow.exceptions import MlflowException

        name = self.cfg.registered_model
        try:
            self._client.get_registered_model(name)
        except MlflowException:
            self._client.create_registered_model(name)
        earlier = self._client.search_model_versions(
            f"name = '{name}' and run_id = '{mlflow_run_id}'"
        )
        if earlier:
            return self._version(min(earlier, key=lambda mv: int(mv.version)))
        source = f"{self._client.get_run(mlflow_run_id).info.artifact_uri}/{ARTIFACT_PATH}"
        tags = {
            TAG_MODEL_NAME: model_name,
            TAG_PARAMS: json.dumps(dict(params), sort_keys=True, default=str),
            TAG_RUN_DATE: run_date,
            TAG_RUN_ID: run_id,
            TAG_METRIC: metric,
            TAG_METRIC_VALUE: repr(float(metric_value)),
        }
        mv = self._client.create_model_version(name, source, run_id=mlflow_run_id, tags=tags)
        return self._version(mv)

    def champion(self) -> ModelVersion | None:
        """The version that serves now, or None before the first promotion."""
        from mlflow.exceptions import MlflowException

        try:
            mv = self._client.get_model_version_by_alias(
                self.cfg.registered_model, self.cfg.champion_alias
            )
        except MlflowException:
            return None
        return self._version(mv)

    def get(self, version: str) -> ModelVersion:
        """One version by number."""
        return self._version(self._client.get_model_version(self.cfg.registered_model, version))

    def promote(self, version: str) -> None:
        """Point the champion alias at ``version``."""
        self._client.set_registered_model_alias(
            self.cfg.registered_model, self.cfg.champion_alias, version
        )
        log.info(
            "registry: %s@%s -> v%s", self.cfg.registered_model, self.cfg.champion_alias, version
        )

    def download(self, version: ModelVersion, dst: Path) -> Path:
        """The version's saved model folder, copied to the local folder ``dst``."""
        if version.mlflow_run_id is None:
            raise ValueError(f"version {version.version} has no run to download from")
        if dst.exists():
            shutil.rmtree(dst)
        with tempfile.TemporaryDirectory() as tmp:
            got = self._client.download_artifacts(version.mlflow_run_id, ARTIFACT_PATH, tmp)
            shutil.copytree(got, dst)
        return dst

    def _version(self, mv: Any) -> ModelVersion:
        tags: dict[str, str] = dict(mv.tags or {})
        value = tags.get(TAG_METRIC_VALUE)
        return ModelVersion(
            version=str(mv.version),
            model_name=tags.get(TAG_MODEL_NAME, ""),
            params=json.loads(tags.get(TAG_PARAMS, "{}")),
            run_date=tags.get(TAG_RUN_DATE, ""),
            run_id=tags.get(TAG_RUN_ID, ""),
            metric=tags.get(TAG_METRIC),
            metric_value=float(value) if value is not None else None,
            mlflow_run_id=mv.run_id,
        )
