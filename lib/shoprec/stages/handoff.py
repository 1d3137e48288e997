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

All of it lives under the lake root, on whatever filesystem the lake is (a local
folder, ``s3a://``, ``abfss://``, ``gs://``, ``hdfs://``), read and written through
the lake's :class:`~shoprec.lake.Storage`: a stage's driver may run on any node of a
cluster and still find what the previous stage left. Small JSON files are written
whole or not at all, so a reader never sees half a file. Functions take the lake's
files (a :class:`~shoprec.lake.Lake` is one; ``shoprec gate`` reads the decision with
:class:`~shoprec.lake.LakeFiles` alone, without Spark).

Example::

    handoff.write_trained(lake, day, "ease", {"params": {...}, "validation_ndcg": 0.31})
    fitted, skipped = handoff.read_trained(lake, day, ["ease", "als"])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shoprec import faults
from shoprec.errors import InputError
from shoprec.evaluation.gate import GateDecision
from shoprec.lake import LakeFiles, last_commit_rows
from shoprec.schemas import table as spec

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
def _night(day: dt.date, *parts: str) -> str:
    """A path relative to the lake root, in ``day``'s folder."""
    return "/".join([MODELS, day.isoformat(), *parts])


def models_dir(lake: LakeFiles, day: dt.date) -> str:
    """The night's folder for saved models and the hand-off files of ``day``."""
    return lake.file_path(_night(day))


def model_folder(lake: LakeFiles, day: dt.date, model: str) -> str:
    """Where train saves ``model`` for ``day`` and evaluate loads it."""
    return lake.file_path(_night(day, model))


def work_folder(lake: LakeFiles, day: dt.date, fit: str) -> str:
    """Scratch space of one kind of fit (``validation``, ``test``, ``champion``, ``score``).

    Neural models checkpoint here, so a rerun of the night resumes the fit it belongs to.
    """
    return lake.file_path(_night(day, WORK, fit))


def publication_file(run_id: str) -> str:
    """Where a publication's search model lives, relative to the lake root."""
    return f"{MODELS}/search/publications/{run_id}.json"


def staged_path(lake: LakeFiles, table: str, run_id: str) -> str:
    """Where ``run_id`` stages the serving table ``table`` (a Delta table) before publishing."""
    if table not in STAGED_TABLES:
        raise ValueError(f"not a serving table: {table!r}")
    return lake.file_path(STAGED_TABLES[table], run_id)


# ------------------------------------------------------------------ train -> evaluate
def _trained_file(day: dt.date, model: str) -> str:
    return _night(day, TRAINED, f"{model}.json")


def clear_trained(lake: LakeFiles, day: dt.date, model: str) -> None:
    """Forget ``model``'s outcome and saved model of ``day`` (a rerun starts from nothing)."""
    lake.delete_files(_trained_file(day, model))
    lake.delete_files(_night(day, model))


def write_trained(lake: LakeFiles, day: dt.date, model: str, outcome: Mapping[str, Any]) -> None:
    """Train's outcome for ``model``: {"params", "validation_ndcg", "fit_id"} if fitted (the
    fit id names this saved model among every fit of the model and date), else
    {"skipped": why}."""
    lake.write_json(_trained_file(day, model), dict(outcome))


def read_trained(
    lake: LakeFiles, day: dt.date, models: Sequence[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The night's train outcomes of ``models``: (fitted -> outcome, skipped -> reason).

    A model without an outcome (its train task did not run) is in neither.
    """
    fitted: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in models:
        outcome = lake.read_json(_trained_file(day, name))
        if outcome is None:
            continue
        if "skipped" in outcome:
            skipped[name] = str(outcome["skipped"])
        else:
            fitted[name] = outcome
    return fitted, skipped


# ------------------------------------------------------------------ evaluate -> gate, score
def clear_decision(lake: LakeFiles, day: dt.date) -> None:
    """Remove ``day``'s gate decision and selection (evaluate is about to make new ones)."""
    for name in (SELECTED_FILE, GATE_FILE):
        lake.delete_files(_night(day, name))


def write_gate(lake: LakeFiles, day: dt.date, decision: GateDecision) -> str:
    """The champion gate's decision for ``day``; returns the file's path (for the report)."""
    return lake.write_json(_night(day, GATE_FILE), decision.as_dict())


def read_gate(lake: LakeFiles, day: dt.date) -> GateDecision | None:
    """The champion gate's decision for ``day``, if evaluate has made one (no Spark needed)."""
    data = lake.read_json(_night(day, GATE_FILE))
    return GateDecision.from_dict(data) if data is not None else None


def write_selected(lake: LakeFiles, day: dt.date, selected: Mapping[str, Any]) -> None:
    """The model score refits for ``day``: {"model", "params", "version", <gate metric>, "promote"}."""
    lake.write_json(_night(day, SELECTED_FILE), dict(selected))


def read_selected(lake: LakeFiles, day: dt.date) -> dict[str, Any] | None:
    """The selection evaluate made for ``day``; None when it selected nothing."""
    data = lake.read_json(_night(day, SELECTED_FILE))
    return dict(data) if data is not None else None


# ------------------------------------------------------------------ score -> publish
def write_staged(lake: LakeFiles, day: dt.date, staged: Mapping[str, Any]) -> None:
    """What score staged for ``day``: {"run_id", "model", "model_version", "promote"}."""
    lake.write_json(_night(day, STAGED_FILE), dict(staged))


def read_staged(lake: LakeFiles, day: dt.date) -> dict[str, Any] | None:
    """What score staged for ``day``; None when score has not run."""
    data = lake.read_json(_night(day, STAGED_FILE))
    return dict(data) if data is not None else None


def stage_tables(
    frames: Mapping[str, DataFrame], lake: LakeFiles, run_id: str
) -> dict[str, DataFrame]:
    """Write each serving table's rows to its staged path; the frames read back from there."""
    out = {}
    for table, df in frames.items():
        path = staged_path(lake, table, run_id)
        writer = df.write.format("delta").mode("overwrite")
        stats = spec(table).skipping_stats  # no user ids in the staged table's log either
        if stats:
            writer = writer.option("delta.dataSkippingStatsColumns", ",".join(stats))
        writer.save(path)
        faults.point(f"staged.write.{table}")
        out[table] = df.sparkSession.read.format("delta").load(path)
    return out


def staged_runs(lake: LakeFiles, table: str) -> list[str]:
    """Every run's staged ``table`` (Delta tables), as paths relative to the lake root."""
    root = STAGED_TABLES[table]
    return [f"{root}/{run}" for run in lake.list_files(root)]


def staged_rows(spark: SparkSession, lake: LakeFiles, table: str, run_id: str) -> int:
    """Rows :func:`stage_tables` wrote for ``table`` (from the commit, not a count)."""
    return last_commit_rows(spark, staged_path(lake, table, run_id))


def staged_tables(
    spark: SparkSession, lake: LakeFiles, tables: Sequence[str], run_id: str
) -> dict[str, DataFrame]:
    """The staged rows of ``tables`` that ``run_id`` wrote with :func:`stage_tables`."""
    return {
        table: spark.read.format("delta").load(staged_path(lake, table, run_id)) for table in tables
    }


# ------------------------------------------------------------------ search
def write_search_trained(lake: LakeFiles, day: dt.date, trained: Mapping[str, Any]) -> None:
    """search_train's outcome: {"model", "accepted", "note", "metrics", ...}."""
    lake.write_json(_night(day, SEARCH, SEARCH_TRAINED_FILE), dict(trained))


def read_search_trained(lake: LakeFiles, day: dt.date) -> dict[str, Any] | None:
    """search_train's outcome for ``day``; None when it has not run."""
    data = lake.read_json(_night(day, SEARCH, SEARCH_TRAINED_FILE))
    return dict(data) if data is not None else None


def write_publication(lake: LakeFiles, run_id: str, model: Mapping[str, Any]) -> None:
    """The search model (a :class:`~shoprec.search.engine.SearchModel` as JSON) ``run_id`` serves."""
    lake.write_json(publication_file(run_id), dict(model))


def read_publication(lake: LakeFiles, run_id: str) -> dict[str, Any]:
    """The search model publication ``run_id`` serves; InputError when its file is missing."""
    data = lake.read_json(publication_file(run_id))
    if data is None:
        path = lake.file_path(publication_file(run_id))
        raise InputError(f"search publication {run_id}: model file {path} is missing")
    return dict(data)
