"""Neural recommenders in PyTorch on the shared :class:`~shoprec.models.base.Recommender` contract.

Trained by :mod:`shoprec.training` (in process, or Horovod ranks on the executors fed
by Petastorm); scored in the executors by :mod:`shoprec.models.scoring` with only the
item vectors (and, for history encoders, the network) broadcast.
"""

from __future__ import annotations

from shoprec.models.neural._base import NeuralRecommender
from shoprec.models.neural.lightgcn import LightGCN
from shoprec.models.neural.sequential import GRU4Rec, SASRec
from shoprec.models.neural.twotower import TwoTower

__all__ = ["GRU4Rec", "LightGCN", "NeuralRecommender", "SASRec", "TwoTower"]
