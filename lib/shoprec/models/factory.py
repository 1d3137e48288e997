"""Every model by name: its class, a fresh instance from settings, the settings tried per model.

Example::

    grids = candidate_grid(settings.models, ["ease"])
    model = build_model("ease", grids["ease"][0], seed=7).fit(train, n_items=n)
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from shoprec.config import ModelsConfig
from shoprec.errors import ConfigError
from shoprec.lake import join
from shoprec.models.als import ALSRecommender
from shoprec.models.base import Recommender
from shoprec.models.cooccurrence import ItemKNN
from shoprec.models.ease import EASE
from shoprec.models.neural import GRU4Rec, LightGCN, NeuralRecommender, SASRec, TwoTower
from shoprec.models.popularity import Popularity

MODEL_CLASSES: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "itemknn": ItemKNN,
    "als": ALSRecommender,
    "ease": EASE,
    "two_tower": TwoTower,
    "gru4rec": GRU4Rec,
    "sasrec": SASRec,
    "lightgcn": LightGCN,
}


def candidate_grid(
    models: ModelsConfig, names: Sequence[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The hyperparameter settings tried per model (one setting: no search).

    ``models``: the conf's models section. ``names``: the models wanted, in that
    order (default: ``models.enabled``); the benchmarks ask for any model, whatever
    the conf enables.
    """
    m = models
    nn = m.neural
    common = {
        "dim": nn.dim,
        "epochs": nn.epochs,
        "batch_size": nn.batch_size,
        "lr": nn.lr,
        "workers": nn.workers,
        "threads": nn.threads,
        "patience": nn.patience,
        "validation_share": nn.validation_share,
        "max_train_seconds": None if nn.max_train_minutes is None else nn.max_train_minutes * 60,
    }
    grids: dict[str, list[dict[str, Any]]] = {
        "popularity": [{}],
        "itemknn": [
            {"neighbours": m.itemknn_neighbours, "shrinkage": s} for s in m.itemknn_shrinks
        ],
        "als": [
            {"rank": m.als_rank, "reg_param": r, "alpha": m.als_alpha, "max_iter": m.als_max_iter}
            for r in m.als_reg_params
        ],
        "ease": [{"reg": lam, **_ease_limits(m)} for lam in m.ease_lambdas],
        "two_tower": [{**common, "max_history": nn.max_len}],
        "gru4rec": [{**common, "max_len": nn.max_len}],
        "sasrec": [{**common, "max_len": nn.max_len}],
        "lightgcn": [{**common, "layers": nn.lightgcn_layers}],
    }
    for name, own in nn.per_model.items():
        unknown = sorted(set(own) - constructor_params(MODEL_CLASSES[name]))
        if unknown:
            raise ConfigError(
                f"models.neural.per_model.{name}: unknown setting(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(constructor_params(MODEL_CLASSES[name])))})"
            )
        grids[name] = [{**setting, **own} for setting in grids[name]]
    return {name: grids[name] for name in (m.enabled if names is None else names)}


def build_model(
    name: str,
    params: dict[str, Any],
    *,
    seed: int,
    workdir: str | None = None,
    cache_dir: str | None = None,
) -> Recommender:
    """A fresh, unfitted model.

    Neural models checkpoint each epoch under ``workdir`` (a per-night, per-fit folder
    under the lake, local or a URI, so a rerun resumes the fit it belongs to, whichever
    node it runs on); Horovod ranks read their examples from Petastorm's ``cache_dir``
    (None: a temporary local folder). Raises ValueError for an unknown ``name``.
    """
    if name not in MODEL_CLASSES:
        raise ValueError(f"unknown model {name!r}")
    cls = MODEL_CLASSES[name]
    if name == "als" or issubclass(cls, NeuralRecommender):
        params = {**params, "seed": seed}
    if issubclass(cls, NeuralRecommender):
        if workdir is not None:
            params = {**params, "checkpoint_dir": join(str(workdir), "checkpoints", name)}
        if cache_dir is not None:
            params = {**params, "cache_dir": cache_dir}
    return cls(**params)


def constructor_params(cls: type) -> set[str]:
    """The keyword arguments ``cls(...)`` accepts, its bases' included (through ``**kwargs``)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {
            p.name for p in params if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD
        }
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return names - {"self"}


def _ease_limits(m: ModelsConfig) -> dict[str, Any]:
    """EASE's explicit caps from conf, only those set (the driver's free memory otherwise)."""
    limits: dict[str, Any] = {}
    if m.ease_max_items is not None:
        limits["max_items"] = m.ease_max_items
    if m.ease_max_memory_gb is not None:
        limits["max_memory_bytes"] = int(m.ease_max_memory_gb * 1e9)
    return limits
