"""A second process that reads the serving tables while another publishes and restores.

``python -m tests.serving.poll_publications LAKE OUT STOP``: until the file STOP
exists, read the publication served now and each serving table as of the version it
names (as the shop's services do, :func:`~shoprec.serving.publish.read_published`),
and, for contrast, each table's latest version (a plain Delta reader). One JSON line
per poll in OUT: the run ids each table held, per way of reading.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from shoprec.config import SparkConfig
from shoprec.lake import Lake
from shoprec.serving.publish import SERVING_TABLES, current
from shoprec.spark import build_spark
from tests.conftest import TINY_DATA_SPARK


def runs_in(df: object) -> list[str]:
    return sorted({r[0] for r in df.select("run_id").distinct().collect()})  # type: ignore[attr-defined]


def main(root: str, out: str, stop: str) -> None:
    spark = build_spark(
        SparkConfig(master="local[1]", driver_memory="1g", conf={**TINY_DATA_SPARK})
    )
    lake = Lake(spark, root)
    with Path(out).open("w") as f:
        f.write(json.dumps({"ready": True}) + "\n")
        f.flush()
        while not Path(stop).exists():
            served = current(lake)
            if served is None:
                continue
            poll = {
                "publication": served.number,
                "expected": {t: served.runs[t] for t in SERVING_TABLES},
                "published": {
                    t: runs_in(lake.read_version(t, served.tables[t])) for t in SERVING_TABLES
                },
                "latest": {t: runs_in(lake.read(t)) for t in SERVING_TABLES},
            }
            f.write(json.dumps(poll) + "\n")
            f.flush()
            time.sleep(0.5)  # leave the publisher some of the machine
    spark.stop()


if __name__ == "__main__":
    main(*sys.argv[1:4])
