from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from shoprec.config import LocksConfig
from shoprec.errors import InputError
from shoprec.lake import Lake
from shoprec.schemas import POPULAR_ITEMS, SIMILAR_ITEMS, USER_RECOMMENDATIONS
from shoprec.serving.publish import (
    SERVING_TABLES,
    current,
    history,
    publish,
    read_published,
    restore_previous,
    switch,
    switching,
)

NOW = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[2]
LOCKS = LocksConfig(ttl_seconds=60)


def tables(spark: SparkSession, run: str, n: int) -> dict[str, DataFrame]:
    return {
        "gold.user_recommendations": spark.createDataFrame(
            [("u1", r, f"i{r}", 1.0 / r, "why", "ease", "v1", run, NOW) for r in range(1, n + 1)],
            USER_RECOMMENDATIONS,
        ),
        "gold.similar_items": spark.createDataFrame(
            [("i1", 1, "i2", 0.5, "why", "v1", run)], SIMILAR_ITEMS
        ),
        "gold.popular_items": spark.createDataFrame([("all", 1, "i1", 9.0, run)], POPULAR_ITEMS),
    }


def runs(df: DataFrame) -> set[str]:
    return {r[0] for r in df.select("run_id").distinct().collect()}


def served(lake: Lake) -> set[str]:
    """The run ids a consistent reader sees across all three tables."""
    return set().union(*(runs(read_published(lake, t)) for t in SERVING_TABLES))


def restore(lake: Lake) -> dict[str, str]:
    return restore_previous(lake, run_id="restore-test", locks=LOCKS)


def test_no_restore_goes_back_past_a_forget(spark: SparkSession, lake: Lake) -> None:
    urecs = "gold.user_recommendations"
    publish(lake, tables(spark, "run-a", 3), run_id="run-a", locks=LOCKS)
    publish(lake, tables(spark, "run-b", 3), run_id="run-b", locks=LOCKS)
    with switching(lake, "forget-x", LOCKS):  # as shoprec forget does
        kept = read_published(lake, urecs).where("rank = 1").localCheckpoint()
        version = lake.overwrite(kept, urecs, note="forget")
        switch(lake, "forget", "forget-x", {urecs: version}, {urecs: "run-b"})
    with pytest.raises(InputError, match="none since the last forget"):
        restore(lake)  # run-a's lists still hold the forgotten users
    publish(lake, tables(spark, "run-c", 3), run_id="run-c", locks=LOCKS)
    assert restore(lake)[urecs] == "run-b"
    assert read_published(lake, urecs).count() == 1  # the lists after the forget


def test_a_publication_killed_between_tables_serves_the_previous_one(
    spark: SparkSession, lake: Lake
) -> None:
    publish(lake, tables(spark, "run-a", 3), run_id="run-a", locks=LOCKS)
    broken = tables(spark, "run-b", 3)
    # the last table fails after the first two have their new versions
    broken["gold.popular_items"] = broken["gold.popular_items"].drop("score")
    with pytest.raises(ValueError, match="lack columns"):
        publish(lake, broken, run_id="run-b", locks=LOCKS)
    assert runs(lake.read("gold.user_recommendations")) == {"run-b"}  # written, not switched
    assert served(lake) == {"run-a"}
    assert current(lake).number == 1  # type: ignore[union-attr]
    publish(lake, tables(spark, "run-b", 3), run_id="run-b", locks=LOCKS)  # the rerun
    assert served(lake) == {"run-b"}


def test_concurrent_switches_lose_nothing(spark: SparkSession, lake: Lake) -> None:
    """Two publishers at once (publish beside search_publish): both rows, in turn."""
    publish(lake, tables(spark, "run-a", 1), run_id="run-a", locks=LOCKS)
    frames = {r: tables(spark, r, 2) for r in ("run-x", "run-y")}
    errors: list[BaseException] = []

    def go(run: str) -> None:
        try:
            publish(lake, frames[run], run_id=run, locks=LOCKS)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=go, args=(r,)) for r in frames]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [p.number for p in history(lake)] == [3, 2, 1]
    assert served(lake) == {history(lake)[0].run_id}


@pytest.mark.slow
def test_a_second_process_never_reads_a_mix(
    spark: SparkSession, lake: Lake, tmp_path: Path
) -> None:
    """Poll every serving table from another process (delta-rs, as a shop's service
    reads) through 14 publications and 6 restores: each poll's three tables hold the
    lists of the one run it names. Each restore goes back to the publication before;
    plain readers follow it too."""
    out, stop = tmp_path / "polls.jsonl", tmp_path / "stop"
    publish(lake, tables(spark, "run-00", 2), run_id="run-00", locks=LOCKS)
    reader = subprocess.Popen(
        [sys.executable, "-m", "tests.serving.poll_publications", lake.root, str(out), str(stop)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not (out.exists() and out.read_text().strip()):
            assert reader.poll() is None, reader.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the reader did not start"
            time.sleep(0.5)
        for i in range(1, 15):  # 14 publications and 6 restores: 20 switches
            run = f"run-{i:02d}"
            publish(lake, tables(spark, run, 1 + i % 4), run_id=run, locks=LOCKS)
            if i % 2 == 0 and i <= 12:  # back to the one before, every table
                assert set(restore(lake).values()) == {f"run-{i - 1:02d}"}
    finally:
        stop.touch()
        reader.wait(120)
    # a rerun of publish for one run is not a publication to go back to
    publish(lake, tables(spark, "run-14", 3), run_id="run-14", locks=LOCKS)
    assert restore(lake)["gold.user_recommendations"] == "run-13"
    assert served(lake) == {"run-13"} and runs(lake.read("gold.similar_items")) == {"run-13"}
    polls = [json.loads(line) for line in out.read_text().splitlines()[1:]]
    mixed = [
        p
        for p in polls
        if any(p["published"][t] != [p["expected"][t]] for t in SERVING_TABLES)
        or len(set(p["expected"].values())) != 1
    ]
    plain_mixed = [p for p in polls if len({tuple(v) for v in p["latest"].values()}) != 1]
    print(
        f"{len(polls)} polls, {len(mixed)} mixed; plain latest-version reads mixed: {len(plain_mixed)}"
    )
    assert reader.returncode == 0
    assert len(polls) >= 10 and len({p["publication"] for p in polls}) >= 5  # they overlapped
    assert mixed == []
