"""Training neural recommenders: one loop, in process or with Horovod on Spark.

The only package that imports horovod and petastorm (both lazily, inside the
functions that need them, so models and tests import without a Horovod build).
"""

from __future__ import annotations

from shoprec.training.trainer import (
    HOROVOD,
    LOCAL,
    NetFactory,
    TrainableNet,
    TrainConfig,
    TrainResult,
    train,
)

__all__ = [
    "HOROVOD",
    "LOCAL",
    "NetFactory",
    "TrainConfig",
    "TrainResult",
    "TrainableNet",
    "train",
]
