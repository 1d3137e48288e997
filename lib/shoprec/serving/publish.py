"""Publication: a night's serving lists become visible to the shop in one switch.

The shop reads gold.user_recommendations, gold.similar_items and gold.popular_items
(and the search tables, gold.search_results and gold.query_suggestions). They are
separate Delta tables, so replacing them takes one commit each; what makes a night's
lists appear together is gold.publications, a log with one row per switch that names
the Delta version of every serving table to read. A publication first writes the new
lists (versions nobody follows yet), then appends the row that points at them: one
Delta commit, which a reader sees all of or nothing of. Killed before the row, the
previous publication stays served; a rerun writes the lists again, then the row.

Readers that need one consistent night read the newest row and each table as of the
version it names (:func:`read_published`; README shows the same in SQL). A plain
reader of a table's latest version keeps working and sees the same lists, except
while a publication is being written or restored.

:func:`restore_previous` switches back in one step: each table's latest version
becomes the previous publication's lists again (for plain readers), then one row
points every reader at them. Every switch (publish, search_publish,
``shoprec restore``, ``shoprec forget``) holds the publication lock, so rows are
appended one at a time and none carries forward a stale view of the others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import faults
from shoprec import schemas as S
from shoprec.config import LocksConfig
from shoprec.errors import InputError
from shoprec.lake import Lake
from shoprec.locks import Lease, hold

SERVING_TABLES: tuple[str, ...] = (
    "gold.user_recommendations",
    "gold.similar_items",
    "gold.popular_items",
)
# Published by the search stages (shoprec.stages.search_publish), restored on their own.
SEARCH_SERVING_TABLES: tuple[str, ...] = ("gold.search_results", "gold.query_suggestions")
LOG = "gold.publications"
_NOTE = "publication "
_RESTORED = "restored "


@dataclass(frozen=True)
class Publication:
    """One row of gold.publications: what a switch made the shop see."""

    number: int
    action: str  # publish, restore, forget
    changed: tuple[str, ...]
    tables: Mapping[str, int]  # serving table -> Delta version to read
    runs: Mapping[str, str]  # serving table -> the run whose lists it holds
    run_id: str
    published_at: dt.datetime


def history(lake: Lake) -> list[Publication]:
    """Every switch, newest first."""
    rows = lake.read(LOG).orderBy(F.col(S.PUBLICATION).desc()).collect()
    return [
        Publication(
            number=int(r[S.PUBLICATION]),
            action=r["action"],
            changed=tuple(r["changed"]),
            tables={k: int(v) for k, v in r["tables"].items()},
            runs=dict(r["runs"]),
            run_id=r[S.RUN_ID],
            published_at=r["published_at"],
        )
        for r in rows
    ]


def current(lake: Lake) -> Publication | None:
    """The publication served now (None before the first)."""
    pubs = history(lake)
    return pubs[0] if pubs else None


def current_publication(lake: Lake, name: str) -> str | None:
    """The run whose lists of serving table ``name`` are served now."""
    served = current(lake)
    return served.runs.get(name) if served else None


def read_published(lake: Lake, name: str) -> DataFrame:
    """Serving table ``name`` as the current publication has it.

    Read with the other serving tables through the same :class:`Publication`, they
    are always one night's lists. A lake published before the publication log existed
    has no row yet: its tables' latest versions are read until the next publication.
    """
    served = current(lake)
    if served is None or name not in served.tables:
        return lake.read(name)
    return lake.read_version(name, served.tables[name])


def switch(
    lake: Lake,
    action: str,
    run_id: str,
    versions: Mapping[str, int],
    runs: Mapping[str, str],
) -> Publication:
    """Append the row that makes ``versions`` the served ones (one commit).

    Call it inside :func:`switching`: the row carries forward what the one before it
    serves, which another switch must not change in between.
    """
    before = current(lake)
    pub = Publication(
        number=(before.number + 1) if before else 1,
        action=action,
        changed=tuple(versions),
        tables={**(before.tables if before else {}), **versions},
        runs={**(before.runs if before else {}), **runs},
        run_id=run_id,
        published_at=dt.datetime.now(dt.UTC),
    )
    row = (
        pub.number,
        pub.action,
        list(pub.changed),
        dict(pub.tables),
        dict(pub.runs),
        pub.run_id,
        pub.published_at,
    )
    lake.append(lake.spark.createDataFrame([row], S.PUBLICATIONS), LOG)
    return pub


def switching(lake: Lake, run_id: str, locks: LocksConfig) -> AbstractContextManager[Lease]:
    """The publication lock: one switch at a time, waiting for the one under way."""
    return hold(
        lake,
        LOG,
        run_id=run_id,
        ttl_seconds=locks.ttl_seconds,
        what="publication",
        wait_seconds=locks.ttl_seconds,  # another switch takes seconds: wait for it
        enabled=locks.enabled,
    )


def publish(
    lake: Lake, tables: dict[str, DataFrame], *, run_id: str, locks: LocksConfig
) -> Publication:
    """Write each serving table's new lists, then switch the shop to all of them at once."""
    unknown = set(tables) - set(SERVING_TABLES) - set(SEARCH_SERVING_TABLES)
    if unknown:
        raise ValueError(f"not serving tables: {sorted(unknown)}")
    with switching(lake, run_id, locks):
        versions = {}
        for name, df in tables.items():
            versions[name] = lake.overwrite(df, name, note=_NOTE + run_id)
            faults.point("publish.between_tables")
        return switch(lake, "publish", run_id, versions, dict.fromkeys(versions, run_id))


def restore_previous(
    lake: Lake,
    tables: Sequence[str] = SERVING_TABLES,
    *,
    run_id: str,
    locks: LocksConfig,
) -> dict[str, str]:
    """Switch ``tables`` back to the publication before the one served now, in one step.

    ``tables``: the recommendation tables by default, or :data:`SEARCH_SERVING_TABLES`;
    the other group stays as it is. Returns table -> the run id now served. Run it
    again to go back further. ``run_id`` names who restored, for the lock.
    """
    with switching(lake, run_id, locks):
        pubs = history(lake)
        if not pubs or tables[0] not in pubs[0].runs:
            raise InputError(f"{tables[0]}: no publication to restore from")
        served = pubs[0].runs[tables[0]]
        # Nothing from before a forget of these tables comes back (those lists hold the
        # users it removed); the forget's own lists are the oldest that can.
        forgot = next(
            (
                i
                for i, p in enumerate(pubs)
                if p.action == "forget" and set(p.changed) & set(tables)
            ),
            None,
        )
        since = pubs if forgot is None else pubs[:forgot]
        # the publications of these tables, newest first; a rerun of publish for one run
        # made another row with the same lists, which is not "the previous publication"
        own = [p for p in since if p.action == "publish" and set(tables) <= set(p.changed)]
        if forgot is not None:
            own.append(pubs[forgot])
        ids = [p.runs[tables[0]] for p in own]
        if served not in ids:
            raise InputError(f"{tables[0]}: no publication to restore from")
        earlier = [p for p in own[ids.index(served) + 1 :] if p.runs[tables[0]] != served]
        if not earlier:
            why = " (none since the last forget)" if forgot is not None else ""
            raise InputError(f"{tables[0]}: no earlier publication than {served}{why}")
        target = earlier[0]
        # The target's lists become each table's latest version again (for plain
        # readers, and so the served files are live ones that VACUUM keeps), then the
        # switch: killed in between, the publication served is unchanged and a rerun
        # picks the same target.
        versions = {
            name: lake.overwrite(
                lake.read_version(name, target.tables[name]),
                name,
                note=_RESTORED + _NOTE + target.runs[name],
            )
            for name in tables
        }
        restored = {n: target.runs[n] for n in tables}
        switch(lake, "restore", restored[tables[0]], versions, restored)
        return restored
