"""The files the stages hand each other: the one module that knows where they live.

With D the run date, under the lake root::

    _models/D/                    the night's folder (models_dir)
        <model>/                  a model train saved, evaluate measures (model_folder)
        trained/<model>.json      train's outcome per model (write_trained, read_trained)
        gate.json                 the champion gate's decision (write_gate, read_gate)
        selected.json             the model score refits (write_selected, read_selected)
        staged.json               what score staged for publish (write_staged, read_staged)
        _work/<fit>/              checkpoints and Petastorm data of one fit (work_folder)
        search/trained.json       search_train's ranker and verdict (write_search_trained, ...)
    _models/search/publications/<run id>.json   the search model a publication serves
    _staged/<table>/<run id>/     staged serving lists, Delta (stage_tables, staged_tables)

Small JSON files are written whole or not at all (a temporary file renamed into
place), so a reader never sees half a file. Everything under ``_models`` needs a
local or mounted lake for now; the staged Delta tables live wherever the lake does.

Example::

    handoff.write_trained(lake.root, day, "ease", {"params": {...}, "validation_ndcg": 0.31})
    fitted, skipped = handoff.read_trained(lake.root, day, ["ease", "als"])
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoprec.errors import InputError
from shoprec.evaluation.gate import GateDecision

if TYPE_CHECKING:  # `shoprec gate` reads the decision without starting (or importing) Spark
    from pyspark.sql import DataFrame, SparkSession

MODELS = "_models"
TRAINED = "trained"
GATE_FILE = "gate.json"
SELECTED_FILE = "selected.json"
STAGED_FILE = "staged.json"
WORK = "_work"
SEARCH = "search"
SEARCH_TRAINED_FILE = "trained.json"
STAGED_TABLES: dict[str, str] = {
    "gold.user_recommendations": "_staged/user_recommendations",
    "gold.similar_items": "_staged/similar_items",
    "gold.popular_items": "_staged/popular_items",
    "gold.search_results": "_staged/search_results",
    "gold.query_suggestions": "_staged/query_suggestions",
}


# ------------------------------------------------------------------ where
def _local_root(lake_root: str) -> Path:
    """The lake root as a local folder; InputError for a lake on object storage."""
    if "://" in lake_root and not lake_root.startswith("file://"):
        raise InputError(
            f"lake.root: {lake_root}: the stage hand-off files (<lake>/{MODELS}: trained "
            "models, the gate's decision, the search model) need a local or mounted lake"
        )
    return Path(lake_root.removeprefix("file://"))


def models_dir(lake_root: str, day: dt.date) -> Path:
    """The night's folder for saved models and the hand-off files of ``day``."""
    return _local_root(lake_root) / MODELS / day.isoformat()


def model_folder(lake_root: str, day: dt.date, model: str) -> Path:
    """Where train saves ``model`` for ``day`` and evaluate loads it."""
    return models_dir(lake_root, day) / model


def work_folder(lake_root: str, day: dt.date, fit: str) -> Path:
    """Scratch space of one kind of fit (``validation``, ``test``, ``champion``, ``score``).

    Neural models checkpoint here, so a rerun of the night resumes the fit it belongs to.
    """
    return models_dir(lake_root, day) / WORK / fit


def _search_dir(lake_root: str, day: dt.date) -> Path:
    return models_dir(lake_root, day) / SEARCH


def publication_file(run_id: str) -> str:
    """Where a publication's search model lives, relative to the lake root."""
    return f"{MODELS}/search/publications/{run_id}.json"


def staged_path(lake_root: str, table: str, run_id: str) -> str:
    """Where ``run_id`` stages the serving table ``table`` (a Delta table) before publishing."""
    if table not in STAGED_TABLES:
        raise ValueError(f"not a serving table: {table!r}")
    return "/".join([lake_root, STAGED_TABLES[table], run_id])


# ------------------------------------------------------------------ how
def _write_json(path: Path, obj: Any) -> str:
    """``obj`` as JSON at ``path``, whole or not at all; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)
    return str(path)


def _read_json(path: Path) -> Any | None:
    return json.loads(path.read_text()) if path.is_file() else None


# ------------------------------------------------------------------ train -> evaluate
def _trained_file(lake_root: str, day: dt.date, model: str) -> Path:
    return models_dir(lake_root, day) / TRAINED / f"{model}.json"


def clear_trained(lake_root: str, day: dt.date, model: str) -> None:
    """Forget ``model``'s outcome and saved model of ``day`` (a rerun starts from nothing)."""
    _trained_file(lake_root, day, model).unlink(missing_ok=True)
    shutil.rmtree(model_folder(lake_root, day, model), ignore_errors=True)


def write_trained(lake_root: str, day: dt.date, model: str, outcome: Mapping[str, Any]) -> None:
    """Train's outcome for ``model``: {"params", "validation_ndcg"} if fitted, {"skipped": why}."""
    _write_json(_trained_file(lake_root, day, model), dict(outcome))


def read_trained(
    lake_root: str, day: dt.date, models: Sequence[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The night's train outcomes of ``models``: (fitted -> outcome, skipped -> reason).

    A model without an outcome (its train task did not run) is in neither.
    """
    fitted: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in models:
        outcome = _read_json(_trained_file(lake_root, day, name))
        if outcome is None:
            continue
        if "skipped" in outcome:
            skipped[name] = str(outcome["skipped"])
        else:
            fitted[name] = outcome
    return fitted, skipped


# ------------------------------------------------------------------ evaluate -> gate, score
def clear_decision(lake_root: str, day: dt.date) -> None:
    """Remove ``day``'s gate decision and selection (evaluate is about to make new ones)."""
    for name in (SELECTED_FILE, GATE_FILE):
        (models_dir(lake_root, day) / name).unlink(missing_ok=True)


def write_gate(lake_root: str, day: dt.date, decision: GateDecision) -> str:
    """The champion gate's decision for ``day``; returns the file's path (for the report)."""
    return _write_json(models_dir(lake_root, day) / GATE_FILE, decision.as_dict())


def read_gate(lake_root: str, day: dt.date) -> GateDecision | None:
    """The champion gate's decision for ``day``, if evaluate has made one (no Spark needed)."""
    data = _read_json(models_dir(lake_root, day) / GATE_FILE)
    return GateDecision.from_dict(data) if data is not None else None


def write_selected(lake_root: str, day: dt.date, selected: Mapping[str, Any]) -> None:
    """The model score refits for ``day``: {"model", "params", "version", <gate metric>, "promote"}."""
    _write_json(models_dir(lake_root, day) / SELECTED_FILE, dict(selected))


def read_selected(lake_root: str, day: dt.date) -> dict[str, Any] | None:
    """The selection evaluate made for ``day``; None when it selected nothing."""
    data = _read_json(models_dir(lake_root, day) / SELECTED_FILE)
    return dict(data) if data is not None else None


# ------------------------------------------------------------------ score -> publish
def write_staged(lake_root: str, day: dt.date, staged: Mapping[str, Any]) -> None:
    """What score staged for ``day``: {"run_id", "model", "model_version", "promote"}."""
    _write_json(models_dir(lake_root, day) / STAGED_FILE, dict(staged))


def read_staged(lake_root: str, day: dt.date) -> dict[str, Any] | None:
    """What score staged for ``day``; None when score has not run."""
    data = _read_json(models_dir(lake_root, day) / STAGED_FILE)
    return dict(data) if data is not None else None


def stage_tables(
    frames: Mapping[str, DataFrame], lake_root: str, run_id: str
) -> dict[str, DataFrame]:
    """Write each serving table's rows to its staged path; the frames read back from there."""
    out = {}
    for table, df in frames.items():
        path = staged_path(lake_root, table, run_id)
        df.write.format("delta").mode("overwrite").save(path)
        out[table] = df.sparkSession.read.format("delta").load(path)
    return out


def staged_tables(
    spark: SparkSession, lake_root: str, tables: Sequence[str], run_id: str
) -> dict[str, DataFrame]:
    """The staged rows of ``tables`` that ``run_id`` wrote with :func:`stage_tables`."""
    return {
        table: spark.read.format("delta").load(staged_path(lake_root, table, run_id))
        for table in tables
    }


# ------------------------------------------------------------------ search
def write_search_trained(lake_root: str, day: dt.date, trained: Mapping[str, Any]) -> None:
    """search_train's outcome: {"model", "accepted", "note", "metrics", ...}."""
    _write_json(_search_dir(lake_root, day) / SEARCH_TRAINED_FILE, dict(trained))


def read_search_trained(lake_root: str, day: dt.date) -> dict[str, Any] | None:
    """search_train's outcome for ``day``; None when it has not run."""
    data = _read_json(_search_dir(lake_root, day) / SEARCH_TRAINED_FILE)
    return dict(data) if data is not None else None


def write_publication(lake_root: str, run_id: str, model: Mapping[str, Any]) -> None:
    """The search model (a :class:`~shoprec.search.engine.SearchModel` as JSON) ``run_id`` serves."""
    _write_json(_local_root(lake_root) / publication_file(run_id), dict(model))


def read_publication(lake_root: str, run_id: str) -> dict[str, Any]:
    """The search model publication ``run_id`` serves; InputError when its file is missing."""
    path = _local_root(lake_root) / publication_file(run_id)
    data = _read_json(path)
    if data is None:
        raise InputError(f"search publication {run_id}: model file {path} is missing")
    return dict(data)
