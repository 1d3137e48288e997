"""Evaluation protocols: a train/test split of interactions, relevance truth, segments.

Two protocols, one shape: a :class:`Split` whose ``train`` and ``test`` both have
``user_id`` and ``item_id`` columns, so that :func:`truth_from_test`,
:func:`segment_users`, :func:`segment_items` and :func:`segment_truth` work the same
on either.

* :func:`time_split`: global temporal split of event rows at a cutoff.
* :func:`leave_one_out`: per-user sequences; the last item is the test item.

Segments restrict the *truth* (who and what is evaluated), never the recommendations:
``evaluate(segment_truth(truth, split)[NEW_ITEMS], recs)`` scores how well the full
ranking surfaces items nobody interacted with in train.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from shoprec import schemas as S

# Protocol names, as written to ops.metrics.protocol.
TIME_SPLIT = "time_split"
LEAVE_ONE_OUT = "leave_one_out"

# Segment names, as written to ops.metrics.segment.
ALL = "all"
WARM_USERS = "warm_users"  # test users with at least one train interaction
COLD_USERS = "cold_users"  # test users with none
NEW_ITEMS = "new_items"  # relevant items nobody interacted with in train
SEEN_ITEMS = "seen_items"  # relevant items someone interacted with in train
SEGMENT = "segment"

# The nightly time split's relevant events: what a user did with an item in the test
# (or validation) window that makes it a right answer.
RELEVANT_EVENTS: tuple[str, ...] = (S.VIEW, S.SEARCH_CLICK, S.ADD_TO_CART, S.PURCHASE)


@dataclass(frozen=True)
class Split:
    """A train/test split; both frames have ``user_id`` and ``item_id`` columns.

    ``train_sequences`` is set by :func:`leave_one_out` only: the input sequences with
    the test item cut off (for sequence models).
    """

    train: DataFrame
    test: DataFrame
    train_sequences: DataFrame | None = None


def _ts_literal(value: dt.datetime) -> Column:
    # Through a string, so that a naive datetime means the Spark session time zone
    # (UTC in this project) whatever the driver's local zone; an aware one keeps its offset.
    return F.lit(value.isoformat()).cast("timestamp")


def time_split(
    interactions: DataFrame,
    *,
    cutoff: dt.datetime,
    test_days: int,
    ts_col: str = S.EVENT_TS,
) -> Split:
    """Split event rows at ``cutoff``: train ``ts < cutoff``, test ``[cutoff, cutoff + test_days)``.

    All columns are kept. Rows with a null timestamp or at/after the test window's end
    are in neither. A naive ``cutoff`` is read in the Spark session time zone.
    """
    if test_days < 1:
        raise ValueError(f"test_days must be >= 1, got {test_days}")
    ts = F.col(ts_col)
    start = _ts_literal(cutoff)
    end = _ts_literal(cutoff + dt.timedelta(days=test_days))
    return Split(
        train=interactions.where(ts < start),
        test=interactions.where((ts >= start) & (ts < end)),
    )


def truth_from_test(
    test: DataFrame,
    *,
    train: DataFrame | None = None,
    exclude_train_items: bool = True,
    event_types: Sequence[str] | None = None,
) -> DataFrame:
    """Distinct relevant ``(user_id, item_id)`` pairs of the test window.

    ``event_types`` (if given) keeps only those test events (needs ``event_type``).
    With ``train`` given and ``exclude_train_items``, pairs the user already had in
    train (any event type) are dropped: the usual "next new items" full-ranking setup.
    Rows with a null item (e.g. searches) are never relevant.
    """
    rows = test
    if event_types is not None:
        rows = rows.where(F.col(S.EVENT_TYPE).isin(list(event_types)))
    truth = (
        rows.where(F.col(S.USER_ID).isNotNull() & F.col(S.ITEM_ID).isNotNull())
        .select(S.USER_ID, S.ITEM_ID)
        .distinct()
    )
    if train is not None and exclude_train_items:
        seen = train.select(S.USER_ID, S.ITEM_ID).where(F.col(S.ITEM_ID).isNotNull())
        truth = truth.join(seen, [S.USER_ID, S.ITEM_ID], "left_anti")
    return truth


def _label(keys: DataFrame, known: DataFrame, key: str, yes: str, no: str) -> DataFrame:
    flagged = known.select(key).distinct().withColumn("_known", F.lit(True))
    return keys.join(flagged, key, "left").select(
        key, F.when(F.col("_known"), F.lit(yes)).otherwise(F.lit(no)).alias(SEGMENT)
    )


def segment_users(split: Split) -> DataFrame:
    """``(user_id, segment)`` per test user: ``warm_users`` if in train, else ``cold_users``."""
    users = split.test.select(S.USER_ID).where(F.col(S.USER_ID).isNotNull()).distinct()
    return _label(users, split.train, S.USER_ID, WARM_USERS, COLD_USERS)


def segment_items(split: Split) -> DataFrame:
    """``(item_id, segment)`` per test item: ``seen_items`` if in train, else ``new_items``."""
    items = split.test.select(S.ITEM_ID).where(F.col(S.ITEM_ID).isNotNull()).distinct()
    return _label(items, split.train, S.ITEM_ID, SEEN_ITEMS, NEW_ITEMS)


def segment_truth(truth: DataFrame, split: Split) -> dict[str, DataFrame]:
    """The truth restricted per segment: ``all``, ``warm_users``, ``cold_users``, ``new_items``.

    User segments keep a user's whole truth. ``new_items`` keeps only relevant items
    that nobody interacted with in train, so users without such an item drop out;
    pass each frame with the *unfiltered* recs to ``evaluate``.
    """
    train_users = split.train.select(S.USER_ID).distinct()
    train_items = split.train.select(S.ITEM_ID).where(F.col(S.ITEM_ID).isNotNull()).distinct()
    return {
        ALL: truth,
        WARM_USERS: truth.join(train_users, S.USER_ID, "left_semi"),
        COLD_USERS: truth.join(train_users, S.USER_ID, "left_anti"),
        NEW_ITEMS: truth.join(train_items, S.ITEM_ID, "left_anti"),
    }


def leave_one_out(
    sequences: DataFrame,
    *,
    user_col: str = S.USER_ID,
    items_col: str = "item_ids",
    aligned_cols: Sequence[str] = (),
) -> Split:
    """Hold out each user's last item; the items before it are train.

    ``sequences`` has one row per user with a time-ordered (oldest first) item array.
    Users with one item are in train only; empty or null arrays are dropped.

    * ``test``: ``(user_id, item_id, position)``, the last item and its 0-based index.
    * ``train``: exploded ``(user_id, item_id, position)`` rows, position 0-based.
    * ``train_sequences``: the input rows, ``user_col`` renamed to ``user_id``, with
      ``items_col`` and each of ``aligned_cols`` (arrays parallel to it, e.g.
      ``event_types``) cut to the train part; other columns kept.
    """
    n = F.size(F.col(items_col))
    seqs = sequences.withColumnRenamed(user_col, S.USER_ID).where(
        F.col(items_col).isNotNull() & (n >= 1)
    )
    keep = F.when(n >= 2, n - 1).otherwise(n)
    train_sequences = seqs.withColumns(
        {c: F.slice(F.col(c), F.lit(1), keep) for c in (items_col, *aligned_cols)}
    )
    test = seqs.where(n >= 2).select(
        S.USER_ID,
        F.element_at(F.col(items_col), -1).alias(S.ITEM_ID),
        (n - 1).alias(S.POSITION),
    )
    train = train_sequences.select(
        S.USER_ID, F.posexplode(items_col).alias(S.POSITION, S.ITEM_ID)
    ).select(S.USER_ID, S.ITEM_ID, S.POSITION)
    return Split(train=train, test=test, train_sequences=train_sequences)


def holdout(train: DataFrame, *, share: float, seed: int) -> tuple[DataFrame, DataFrame]:
    """Carve a validation set out of a model's training frame: ``(fit, held)``.

    ``train`` has a model's columns (``user_idx``, ``item_idx``, ...). Each user with at
    least two items keeps ``share`` of them back (at least one, never all): the latest
    ones when ``train`` has ``last_ts`` (a sequence's next items, as leave-one-out
    tests it), otherwise a seeded random choice. ``fit`` holds every other row with
    all its columns; ``held`` is ``(user_idx, item_idx)``. The test data is never
    involved, so choices made on ``held`` (a setting, an epoch) cannot see it.
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be in (0, 1), got {share}")
    rand = F.xxhash64(F.col(S.USER_IDX), F.col(S.ITEM_IDX), F.lit(seed))
    order = [F.col(S.LAST_TS).desc(), rand] if S.LAST_TS in train.columns else [rand]
    by_user = Window.partitionBy(S.USER_IDX)
    n = F.count(F.lit(1)).over(by_user)
    keep_back = F.when(n >= 2, F.greatest(F.lit(1), F.floor(n * share))).otherwise(0)
    ranked = train.select(
        "*",
        F.row_number().over(by_user.orderBy(*order, F.col(S.ITEM_IDX))).alias("_pos"),
        keep_back.alias("_back"),
    )
    held = F.col("_pos") <= F.col("_back")
    fit = ranked.where(~held).drop("_pos", "_back")
    return fit, ranked.where(held).select(S.USER_IDX, S.ITEM_IDX)
