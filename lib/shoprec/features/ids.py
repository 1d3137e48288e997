"""Stable integer ids for users and items (gold.id_map), and the joins through it.

An id gets its index the first night it is seen and keeps it forever: each night
only the ids not yet in the map are appended, numbered after the entity's current
maximum in the order of the ids themselves, so a rerun of the same night appends
the same rows.

The models work on indices: :func:`model_input` turns gold.interactions-shaped pairs
into what every model's ``fit`` takes, :func:`to_idx` / :func:`from_idx` map ids to
indices and back.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S

USER = "user"
ITEM = "item"
ID = "id"
IDX = "idx"
FIRST_SEEN = "first_seen"


def assign_ids(existing: DataFrame, ids: DataFrame, *, entity: str, as_of: dt.date) -> DataFrame:
    """Number the ids of ``entity`` that ``existing`` lacks, after its current maximum.

    ``existing``: gold.id_map rows (any entities; empty on the first night).
    ``ids``: a frame with an ``id`` column (duplicates and nulls are ignored).

    Output: :data:`~shoprec.schemas.ID_MAP` rows to append: one per new id, with
    ``idx`` = max existing idx of the entity + 1, + 2, ... in ascending ``id``
    order (0, 1, ... for a new entity) and ``first_seen`` = ``as_of``. Existing
    ids are never renumbered.

    The numbering is a ``row_number`` over one window ordered by ``id``, which
    Spark evaluates in a single partition. That is deliberate: it sees only the
    ids that are new tonight (one day's new users and items, not the whole map),
    it is lazy (``zipWithIndex`` would run a job while building the plan), and
    sorting on the id makes it deterministic across reruns and partitionings.
    """
    known = existing.where(F.col(S.ENTITY) == entity)
    offset = known.agg(F.coalesce(F.max(IDX), F.lit(-1)).cast("long").alias("_offset"))
    new = (
        ids.select(ID)
        .where(F.col(ID).isNotNull())
        .distinct()
        .join(known.select(ID), ID, "left_anti")
    )
    return new.crossJoin(offset).select(
        F.lit(entity).alias(S.ENTITY),
        F.col(ID),
        (F.col("_offset") + F.row_number().over(Window.orderBy(ID))).cast("long").alias(IDX),
        F.lit(as_of).alias(FIRST_SEEN),
    )


def new_id_rows(existing: DataFrame, interactions: DataFrame, *, as_of: dt.date) -> DataFrame:
    """The id_map rows to append for the users and items of one night's interactions.

    Output: :data:`~shoprec.schemas.ID_MAP` rows, users then items (see
    :func:`assign_ids`).
    """
    users = interactions.select(F.col(S.USER_ID).alias(ID))
    items = interactions.select(F.col(S.ITEM_ID).alias(ID))
    return assign_ids(existing, users, entity=USER, as_of=as_of).unionByName(
        assign_ids(existing, items, entity=ITEM, as_of=as_of)
    )


def _index(id_map: DataFrame, entity: str, id_col: str, idx_col: str) -> DataFrame:
    """``id_col, idx_col`` of one entity's rows of gold.id_map."""
    return id_map.where(F.col(S.ENTITY) == entity).select(
        F.col(ID).alias(id_col), F.col(IDX).alias(idx_col)
    )


def to_idx(pairs: DataFrame, id_map: DataFrame) -> DataFrame:
    """Add ``user_idx`` and ``item_idx`` to rows with ``user_id`` and ``item_id``.

    A row whose user or item ``id_map`` lacks is dropped. Output: the columns of
    ``pairs`` and ``user_idx``, ``item_idx``.
    """
    return pairs.join(_index(id_map, USER, S.USER_ID, S.USER_IDX), S.USER_ID).join(
        _index(id_map, ITEM, S.ITEM_ID, S.ITEM_IDX), S.ITEM_ID
    )


def from_idx(recs: DataFrame, id_map: DataFrame) -> DataFrame:
    """Replace ``user_idx`` and ``item_idx`` by ``user_id`` and ``item_id``.

    The inverse of :func:`to_idx`, for a model's recommendations; a row with an
    unmapped index is dropped. Output: the other columns of ``recs`` and
    ``user_id``, ``item_id``.
    """
    return (
        recs.join(_index(id_map, USER, S.USER_ID, S.USER_IDX), S.USER_IDX)
        .join(_index(id_map, ITEM, S.ITEM_ID, S.ITEM_IDX), S.ITEM_IDX)
        .drop(S.USER_IDX, S.ITEM_IDX)
    )


def n_items(id_map: DataFrame) -> int:
    """How many item indices the map has handed out (the largest + 1; 0 when none).

    Runs one small aggregate: a model's ``fit`` needs the number.
    """
    top = id_map.where(F.col(S.ENTITY) == ITEM).agg(F.max(IDX)).first()[0]  # type: ignore[index]
    return int(top) + 1 if top is not None else 0


def model_input(pairs: DataFrame, id_map: DataFrame) -> DataFrame:
    """gold.interactions-shaped pairs -> what every model's ``fit`` takes.

    Output: ``user_idx, item_idx, weight, last_ts`` (``last_ts``: the user's last
    event on the item, which orders the sequential models' input).
    """
    return to_idx(pairs, id_map).select(
        S.USER_IDX, S.ITEM_IDX, S.WEIGHT, F.col("last_event_ts").alias(S.LAST_TS)
    )


def edges(interactions: DataFrame, id_map: DataFrame) -> DataFrame:
    """Replace the user and item ids of interactions by their integer indices.

    ``id_map`` must already hold tonight's new ids (existing rows plus
    :func:`new_id_rows`); a pair whose user or item is unmapped is dropped.

    Output: :data:`~shoprec.schemas.USER_ITEM_EDGES` columns.
    """
    return to_idx(interactions, id_map).select(S.USER_IDX, S.ITEM_IDX, S.WEIGHT, S.AS_OF_DATE)
