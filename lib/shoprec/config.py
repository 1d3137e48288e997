"""Typed configuration: YAML files in conf/, validated on load.

A configuration is a base file plus an environment overlay. An overlay names its
base with ``extends:`` (a path relative to the overlay), and its keys are merged
into the base's, mapping by mapping::

    # conf/local.yaml
    extends: base.yaml
    lake:
      root: ./lake

Every section is a pydantic model that forbids unknown keys, so a typo is an error
naming the key instead of a setting silently ignored. Values reach library
functions as explicit arguments; nothing reads a global settings object.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shoprec.errors import ConfigError

SourceFormat = Literal["canonical", "segment", "rees46", "completejourney"]
NeuralModelName = Literal["two_tower", "gru4rec", "sasrec", "lightgcn"]
ModelName = Literal["popularity", "itemknn", "als", "ease", NeuralModelName]
BASELINE_MODELS: tuple[ModelName, ...] = ("popularity", "itemknn", "als", "ease")
NEURAL_MODELS: tuple[ModelName, ...] = ("two_tower", "gru4rec", "sasrec", "lightgcn")
MODEL_NAMES: tuple[ModelName, ...] = BASELINE_MODELS + NEURAL_MODELS


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkConfig(_Section):
    """How the Spark session is built; spark-submit's --master wins over ``master``."""

    master: str | None = "local[2]"
    app_name: str = "shoprec"
    driver_memory: str = "6g"
    # Folder of jars (Delta Lake's, Hadoop S3A's) put on the class path; setup fills
    # build/jars. On a cluster leave it null and use the platform's or --packages.
    jars_dir: str | None = "build/jars"
    conf: dict[str, str] = Field(default_factory=dict)


class LakeConfig(_Section):
    """Where the Delta tables live: a local folder or an object-store URI."""

    root: str = "lake"
    # Where each night's GX data docs (static HTML) are written: a folder or URI;
    # null: <root>/_quality/docs.
    data_docs_dir: str | None = None


class SourceConfig(_Section):
    """One input feed. ``{date}`` in a path is replaced by the run date."""

    name: str
    format: SourceFormat
    events: str | None = None
    catalog: str | None = None

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, v: str) -> str:
        if not v.replace("_", "").isalnum():
            raise ValueError(f"must be letters, digits and _, got {v!r}")
        return v


class BotRules(_Section):
    """A user is a bot on a day when any rule matches."""

    max_events_per_user_per_day: int = Field(default=2000, gt=0)
    max_events_per_user_per_minute: int = Field(default=60, gt=0)
    user_agent_patterns: list[str] = Field(
        default_factory=lambda: ["(?i)(bot|crawler|spider|slurp|headless)"]
    )


class CleaningConfig(_Section):
    """Bronze to silver rules."""

    session_gap_minutes: int = Field(default=30, gt=0)
    # Events older than this many days before the run date are quarantined.
    max_lateness_days: int = Field(default=3, ge=0)
    # Events after the end of the run date, beyond this tolerance, are quarantined.
    future_tolerance_minutes: int = Field(default=60, ge=0)
    # How far back silver is searched for an event id seen before.
    dedup_lookback_days: int = Field(default=7, ge=0)
    bots: BotRules = Field(default_factory=BotRules)


class PrivacyConfig(_Section):
    """Pseudonymization of user ids. The key comes from the environment or conf."""

    key_env_var: str = "SHOPREC_PSEUDONYMIZATION_KEY"
    # Out of repr: settings in a log line or a traceback never show it.
    key: str | None = Field(default=None, repr=False)

    def resolve_key(self) -> str:
        """The key: the environment variable first, then conf; never a code default."""
        key = os.environ.get(self.key_env_var) or self.key
        if not key:
            raise ConfigError(
                f"privacy.key: no pseudonymization key; set ${self.key_env_var} "
                "or privacy.key in the config"
            )
        if len(key) < 16:
            raise ConfigError("privacy.key: pseudonymization key must be at least 16 characters")
        return key


class RetentionConfig(_Section):
    """How long raw records keep their payload (bronze, silver.quarantine).

    The retention stage of the night of D sets the raw ``record`` to null in every
    partition ingested before D - ``raw_days``; VACUUM deletes the files that held it
    ``vacuum_hours`` after that.
    """

    # Days after its ingest date that a raw record (personal data included) is kept.
    raw_days: int = Field(default=30, ge=0)
    # Hours a file a commit replaced stays on storage (readable by time travel) before
    # VACUUM deletes it. Delta's default is 168; less turns off Delta's check for the
    # call (a reader still on an older version could lose files under it).
    vacuum_hours: int = Field(default=168, ge=0)


class VolumeCheck(_Section):
    """Today's accepted rows against the median of recent days."""

    lookback_days: int = Field(default=7, gt=0)
    min_history_days: int = Field(default=3, ge=1)
    min_ratio: float = Field(default=0.2, ge=0)
    max_ratio: float = Field(default=5.0, gt=0)


class QualityConfig(_Section):
    """Great Expectations thresholds; blocking failures stop the run."""

    max_quarantine_rate: float = Field(default=0.25, ge=0, le=1)
    freshness_hours: int = Field(default=48, gt=0)
    volume: VolumeCheck = Field(default_factory=VolumeCheck)


class FeaturesConfig(_Section):
    """Gold features: implicit-feedback weights, decay and windows."""

    event_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "view": 1.0,
            "search_click": 1.5,
            "add_to_cart": 3.0,
            "remove_from_cart": -2.0,
            "purchase": 5.0,
        }
    )
    half_life_days: float = Field(default=14.0, gt=0)
    lookback_days: int = Field(default=90, gt=0)
    sequence_length: int = Field(default=50, gt=1)
    max_items_per_session: int = Field(default=50, gt=1)

    @field_validator("event_weights")
    @classmethod
    def _known_event_types(cls, v: dict[str, float]) -> dict[str, float]:
        from shoprec.schemas import ITEM_EVENT_TYPES

        unknown = sorted(set(v) - set(ITEM_EVENT_TYPES))
        if unknown:
            raise ValueError(f"not item event types: {', '.join(unknown)}")
        return v


class EvaluationConfig(_Section):
    """The offline protocol every model is compared on."""

    test_days: int = Field(default=1, gt=0)  # the last days before the run date's end
    validation_days: int = Field(default=1, gt=0)  # for choosing regularization
    ks: list[int] = Field(default_factory=lambda: [10, 20])
    gate_metric: str = "ndcg@20"
    # Tonight's best model is promoted when gate_metric >= champion's - gate_tolerance
    # on the same split (absolute difference; 0 = not worse at all).
    gate_tolerance: float = Field(default=0.0, ge=0)

    @field_validator("gate_metric")
    @classmethod
    def _known_metric(cls, v: str) -> str:
        name, _, k = v.partition("@")
        known = {"recall", "precision", "ndcg", "map", "hit_rate"}
        if v != "mrr" and not (name in known and k.isdigit() and int(k) > 0):
            raise ValueError(f"expected mrr or one of {sorted(known)}@K, got {v!r}")
        return v

    @model_validator(mode="after")
    def _gate_k_evaluated(self) -> EvaluationConfig:
        _, _, k = self.gate_metric.partition("@")
        if k and int(k) not in self.ks:
            raise ValueError(f"gate_metric {self.gate_metric} needs {k} in ks {self.ks}")
        return self


class RegistryConfig(_Section):
    """Experiment tracking and the model registry (MLflow)."""

    # None: a SQLite store under a local lake (<lake>/_registry/mlflow.db), artifacts
    # beside it. With a lake on object storage, give the tracking server here.
    tracking_uri: str | None = None
    experiment: str = "shoprec"
    registered_model: str = "shoprec-recommender"
    champion_alias: str = "champion"


class NeuralConfig(_Section):
    """Training of the PyTorch models (shoprec.models.neural)."""

    dim: int = Field(default=64, gt=0)
    epochs: int = Field(default=10, gt=0)
    # training targets per step: user-item pairs (two-tower, LightGCN) or predicted
    # positions (GRU4Rec, SASRec: batch_size // max_len sequences a step)
    batch_size: int = Field(default=256, gt=0)
    lr: float = Field(default=1e-3, gt=0)
    max_len: int = Field(default=50, gt=0)  # items of a user's sequence (GRU4Rec, SASRec)
    lightgcn_layers: int = Field(default=3, gt=0)
    # Early stopping: epochs without a better validation NDCG@20 before training stops
    # (0: train every epoch); the validation items are this share of each user's items,
    # held back from the network's training (the latest ones where there are times).
    patience: int = Field(default=0, ge=0)
    validation_share: float = Field(default=0.1, gt=0, lt=1)
    # Each model's training budget (validation included; the best epoch so far is
    # kept when it runs out). null: no budget, epochs is the limit.
    max_train_minutes: float | None = Field(default=None, gt=0)
    # Settings of one model that differ from the above, by model name, e.g.
    # {lightgcn: {batch_size: 8192, lr: 0.005}}: LightGCN propagates the whole graph
    # every step, so it wants fewer, larger steps than the others.
    per_model: dict[NeuralModelName, dict[str, Any]] = Field(default_factory=dict)
    # 0 or 1: train in the driver process; N >= 2: horovod.spark.run with N ranks on the
    # executors (needs N free task slots), fed by Petastorm.
    workers: int = Field(default=0, ge=0)
    # torch threads per rank; null: the host's cores shared by its ranks (for training in
    # the driver while no Spark task runs beside it, as the benchmarks do)
    threads: int | None = Field(default=1, gt=0)
    # Petastorm's cache of training examples for Horovod ranks: null is a temporary
    # local folder (every rank reaches it on one host); across hosts, a folder they
    # all reach (a shared mount, hdfs://).
    cache_dir: str | None = None


class ModelsConfig(_Section):
    """Which recommenders train nightly, and their search spaces."""

    enabled: list[ModelName] = Field(default_factory=lambda: list(MODEL_NAMES))
    neural: NeuralConfig = Field(default_factory=NeuralConfig)
    ease_lambdas: list[float] = Field(default_factory=lambda: [50.0, 200.0, 800.0])
    # EASE's limit is the driver's free memory (a dense float32 n x n matrix); these
    # cap it further where the driver shares its machine.
    ease_max_items: int | None = Field(default=None, gt=0)
    ease_max_memory_gb: float | None = Field(default=None, gt=0)
    itemknn_neighbours: int = Field(default=100, gt=0)
    itemknn_shrinks: list[float] = Field(default_factory=lambda: [0.0, 10.0])
    als_rank: int = Field(default=32, gt=0)
    als_reg_params: list[float] = Field(default_factory=lambda: [0.01, 0.1])
    als_alpha: float = Field(default=20.0, gt=0)
    als_max_iter: int = Field(default=10, gt=0)
    seed: int = 7


class ServingConfig(_Section):
    """How candidates become the published lists."""

    candidates: int = Field(default=100, gt=0)
    list_size: int = Field(default=20, gt=0)
    similar_items: int = Field(default=20, gt=0)
    popular_items: int = Field(default=50, gt=0)
    repeat_purchase_categories: list[str] = Field(default_factory=list)
    blocked_categories: list[str] = Field(default_factory=list)
    new_arrival_days: int = Field(default=14, ge=0)
    new_arrival_boost: float = Field(default=0.1, ge=0)
    max_per_brand: int = Field(default=5, gt=0)
    diversity: Literal["category_cap", "mmr"] = "category_cap"
    max_per_category: int = Field(default=8, gt=0)
    mmr_lambda: float = Field(default=0.7, ge=0, le=1)


class SearchConfig(_Section):
    """Site search: the BM25 index, what is learned from logs, the ranker and serving."""

    # False: the nightly run skips the search stages (a shop without site search logs).
    enabled: bool = True

    # BM25 per field, summed with these weights (title above category and brand
    # above description).
    field_weights: dict[str, float] = Field(
        default_factory=lambda: {"title": 3.0, "category": 1.5, "brand": 1.5, "description": 1.0}
    )
    bm25_k1: float = Field(default=1.2, ge=0)
    bm25_b: float = Field(default=0.75, ge=0, le=1)
    candidates: int = Field(default=100, gt=0)  # BM25 top-N the ranker re-orders
    results_per_query: int = Field(default=50, gt=0)  # published per head query
    window_days: int = Field(default=30, gt=0)  # logs that pick head queries and suggestions
    head_share: float = Field(default=0.9, gt=0, le=1)  # head queries cover this share
    # Learned rewrites: queries whose click vectors have this cosine similarity
    # and share this many clicks; a rewrite within max_edit_distance is a spelling
    # variant, any other a synonym whose terms expand the query at synonym_weight.
    rewrite_min_similarity: float = Field(default=0.5, ge=0, le=1)
    rewrite_min_shared_clicks: int = Field(default=3, gt=0)
    rewrite_max_per_query: int = Field(default=3, gt=0)
    max_edit_distance: int = Field(default=2, ge=0)
    synonym_weight: float = Field(default=0.5, ge=0)
    ctr_prior_examinations: float = Field(default=5.0, gt=0)  # CTR smoothing strength
    position_bias_iterations: int = Field(default=5, gt=0)
    category_prior_clicks: float = Field(default=2.0, gt=0)  # P(category|query) smoothing
    # Windows of the nightly protocol, with D the run date: features from the days
    # before the train window, labels from train_days, evaluation on test_days (ending D).
    train_days: int = Field(default=3, gt=0)
    test_days: int = Field(default=1, gt=0)
    min_train_searches: int = Field(default=50, gt=0)  # fewer: BM25 is published
    max_train_searches: int = Field(default=200_000, gt=0)  # sampled down to this
    min_improvement: float = Field(default=0.0, ge=0)  # ranker ndcg@10 must beat BM25 by this
    num_trees: int = Field(default=200, gt=0)
    learning_rate: float = Field(default=0.05, gt=0)
    num_leaves: int = Field(default=15, gt=1)
    min_data_in_leaf: int = Field(default=20, gt=0)
    seed: int = 7
    suggestions_per_prefix: int = Field(default=10, gt=0)
    suggestion_min_searches: int = Field(default=2, gt=0)
    max_prefix_chars: int = Field(default=20, gt=0)
    personalization_weight: float = Field(default=0.3, ge=0)

    @field_validator("field_weights")
    @classmethod
    def _known_fields(cls, v: dict[str, float]) -> dict[str, float]:
        known = {"title", "category", "brand", "description"}
        unknown = sorted(set(v) - known)
        if unknown or not v:
            raise ValueError(f"fields must be among {sorted(known)}, got {sorted(v)}")
        if any(w < 0 for w in v.values()):
            raise ValueError("field weights must be >= 0")
        return v


class DemoConfig(_Section):
    """The embedded synthetic shop that ``shoprec demo`` generates and runs."""

    out_dir: str = "data/synthetic"
    users: int = Field(default=2000, gt=0)
    items: int = Field(default=500, gt=0)
    days: int = Field(default=5, gt=0)
    seed: int = 42
    start_date: str = "2026-11-01"
    dirty_rate: float = Field(default=0.02, ge=0, le=1)


class LocksConfig(_Section):
    """Run locks (:mod:`shoprec.locks`): one run per stage and date at a time."""

    # A lock left by a killed run is taken over once this long has passed without
    # renewal; keep it well above the clock skew between the machines running stages.
    ttl_seconds: float = Field(default=600, gt=0)
    # False: no locks (for lakes on storage without an atomic create-if-absent that
    # shoprec knows, today anything but local paths and S3); nothing then stops two
    # runs of one stage and date, or two publications, from interleaving.
    enabled: bool = True


class Settings(_Section):
    """The whole configuration."""

    env: str = "local"
    spark: SparkConfig = Field(default_factory=SparkConfig)
    lake: LakeConfig = Field(default_factory=LakeConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    cleaning: CleaningConfig = Field(default_factory=CleaningConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    locks: LocksConfig = Field(default_factory=LocksConfig)
    demo: DemoConfig = Field(default_factory=DemoConfig)

    @field_validator("sources")
    @classmethod
    def _unique_source_names(cls, v: list[SourceConfig]) -> list[SourceConfig]:
        names = [s.name for s in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique, repeated: {', '.join(dupes)}")
        return v

    def with_overrides(self, overrides: dict[str, Any]) -> Settings:
        """A copy with nested keys replaced, validated like a file would be."""
        return _validate(deep_merge(self.model_dump(), overrides), "<overrides>")


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Merge ``overlay`` into ``base``: mappings recursively, everything else replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'extends' forms a cycle")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends must be a file name")
    base = _read_yaml(path.parent / parent, (*seen, path.resolve()))
    return deep_merge(base, data)


def _validate(data: dict[str, Any], source: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "<root>"
        msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"{source}: {key}: {msg}") from None


def load_settings(path: str | os.PathLike[str] | None) -> Settings:
    """Load and validate a config file (following ``extends``); ``None`` gives defaults.

    >>> load_settings(None).spark.master
    'local[2]'
    """
    if path is None:
        return Settings()
    p = Path(path)
    return _validate(_read_yaml(p), str(p))
