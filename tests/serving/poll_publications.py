"""A second process that reads the serving tables while another publishes and restores.

``python -m tests.serving.poll_publications LAKE OUT STOP``: until the file STOP
exists, read the publication served now and each serving table as of the version it
names, as README tells a shop's service to, and, for contrast, each table's latest
version (a plain Delta reader). One JSON line per poll in OUT: the run ids each table
held, per way of reading.

It reads through delta-rs (``deltalake``), not Spark: a shop's services read the
serving tables without a Spark session, and a second Delta implementation shows the
publication log is plain Delta, not something only this project's code can follow.
It also leaves the machine to the publisher (a Spark reader polled 18 times in the
minutes 20 switches took; this one polls every half second).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from deltalake import DeltaTable

from shoprec.schemas import PUBLICATION, RUN_ID
from shoprec.serving.publish import SERVING_TABLES


def table_dir(root: str, name: str) -> str:
    return str(Path(root, *name.split(".")))


def runs_in(table: DeltaTable) -> list[str]:
    ids = table.to_pyarrow_table(columns=[RUN_ID]).column(RUN_ID).to_pylist()
    return sorted(set(ids))


def served_now(root: str) -> dict[str, Any] | None:
    """The newest row of gold.publications (what the README's SQL selects)."""
    rows = DeltaTable(table_dir(root, "gold.publications")).to_pyarrow_table().to_pylist()
    return max(rows, key=lambda r: r[PUBLICATION]) if rows else None


def main(root: str, out: str, stop: str) -> None:
    with Path(out).open("w") as f:
        f.write(json.dumps({"ready": True}) + "\n")
        f.flush()
        while not Path(stop).exists():
            served = served_now(root)
            if served is None:
                continue
            versions, runs = dict(served["tables"]), dict(served["runs"])
            poll = {
                "publication": served[PUBLICATION],
                "expected": {t: runs[t] for t in SERVING_TABLES},
                "published": {
                    t: runs_in(DeltaTable(table_dir(root, t), version=versions[t]))
                    for t in SERVING_TABLES
                },
                "latest": {t: runs_in(DeltaTable(table_dir(root, t))) for t in SERVING_TABLES},
            }
            f.write(json.dumps(poll) + "\n")
            f.flush()
            time.sleep(0.5)


if __name__ == "__main__":
    main(*sys.argv[1:4])
