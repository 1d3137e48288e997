"""Atomic publication of the serving tables, and restoring the previous one."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame

from shoprec.errors import InputError
from shoprec.lake import Lake

SERVING_TABLES: tuple[str, ...] = (
    "gold.user_recommendations",
    "gold.similar_items",
    "gold.popular_items",
)
# Published by the search stages (shoprec.stages.search_publish), restored on their own.
SEARCH_SERVING_TABLES: tuple[str, ...] = ("gold.search_results", "gold.query_suggestions")
_NOTE = "publication "
_RESTORED = "restored "


def publish(lake: Lake, tables: dict[str, DataFrame], *, run_id: str) -> dict[str, int]:
    """Replace each serving table whole, one commit each; returns the new versions.

    A reader of a table sees either the previous complete publication or this
    one. The commit's note names the run, so :func:`restore_previous` can find
    publications among other commits.
    """
    unknown = set(tables) - set(SERVING_TABLES) - set(SEARCH_SERVING_TABLES)
    if unknown:
        raise ValueError(f"not serving tables: {sorted(unknown)}")
    return {name: lake.overwrite(df, name, note=_NOTE + run_id) for name, df in tables.items()}


def publications(lake: Lake, name: str) -> list[dict[str, object]]:
    """The table's publications, newest first (commits restores did not make)."""
    return [
        h
        for h in lake.history(name)
        if isinstance(h["note"], str)
        and h["note"].startswith(_NOTE)
        and h["operation"] != "RESTORE"
    ]


def current_publication(lake: Lake, name: str) -> str | None:
    """The run id of the publication a reader sees now (after any restore)."""
    hist = lake.history(name)
    note = hist[0]["note"] if hist else None
    if not isinstance(note, str):
        return None
    return note.removeprefix(_RESTORED).removeprefix(_NOTE)


def restore_previous(lake: Lake, tables: Sequence[str] = SERVING_TABLES) -> dict[str, str]:
    """Put every serving table back to the publication before the one served now.

    ``tables``: the recommendation tables by default, or :data:`SEARCH_SERVING_TABLES`.
    Returns table -> the run id now served. Run it again to go back further.
    """
    restored: dict[str, str] = {}
    for name in tables:
        pubs = publications(lake, name)
        served = current_publication(lake, name)
        ids = [str(p["note"]).removeprefix(_NOTE) for p in pubs]
        if served not in ids:
            raise InputError(f"{name}: no publication to restore from")
        position = ids.index(served)
        # the run published before this one: a rerun of publish for the same run made
        # another commit with the same lists, which is not "the previous publication"
        earlier = [i for i in range(position + 1, len(pubs)) if ids[i] != served]
        if not earlier:
            raise InputError(f"{name}: no earlier publication than {served}")
        target = pubs[earlier[0]]
        restored[name] = ids[earlier[0]]
        lake.restore(name, int(str(target["version"])), note=_RESTORED + _NOTE + restored[name])
    return restored
