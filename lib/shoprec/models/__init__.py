"""Baseline recommenders over ``user_idx``/``item_idx`` implicit feedback.

Every model follows :class:`~shoprec.models.base.Recommender`; scoring and top-k
selection run in the executors (:mod:`shoprec.models.scoring`) with only item-side
matrices broadcast.
"""

from __future__ import annotations

from shoprec.models.als import ALSRecommender
from shoprec.models.base import Recommender
from shoprec.models.cooccurrence import ItemKNN
from shoprec.models.ease import EASE
from shoprec.models.popularity import CategoryPopularity, Popularity
from shoprec.models.scoring import SIMILAR_ITEM_IDX
from shoprec.models.tuning import GridChoice, TuningResult, grid_search, param_grid

__all__ = [
    "EASE",
    "SIMILAR_ITEM_IDX",
    "ALSRecommender",
    "CategoryPopularity",
    "GridChoice",
    "ItemKNN",
    "Popularity",
    "Recommender",
    "TuningResult",
    "grid_search",
    "param_grid",
]
