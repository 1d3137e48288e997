"""Independent, reproducible random streams derived from the spec's seed."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """Names one purpose of randomness so purposes never share (or shift) a stream."""

    CATALOG = 1
    USERS = 2
    STAPLES = 3
    CATALOG_DAY = 4
    SESSIONS = 5
    DIRTY = 6
    BOTS = 7
    IDS = 8


def make_rng(seed: int, stream: Stream, *keys: int) -> np.random.Generator:
    """A generator for ``stream`` (and e.g. day and chunk ``keys``) under ``seed``.

    Streams are statistically independent, so e.g. turning dirty records on never
    changes the clean events.
    """
    seq = np.random.SeedSequence(entropy=seed, spawn_key=(int(stream), *keys))
    return np.random.default_rng(seq)
