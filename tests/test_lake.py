from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from shoprec import schemas as S
from shoprec.lake import (
    Lake,
    Storage,
    StorageOptions,
    is_local,
    join,
    normalize_root,
    predicate,
)
from tests.servers import S3

D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)


def bronze_rows(spark: SparkSession, day: dt.date, source: str, n: int):  # type: ignore[no-untyped-def]
    now = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
    rows = [(f"r{i}", source, "canonical", "f", now, "run", day) for i in range(n)]
    return spark.createDataFrame(rows, S.BRONZE)


def test_read_of_unwritten_table_is_empty_with_schema(lake: Lake) -> None:
    df = lake.read("silver.events")
    assert df.count() == 0 and df.schema == S.SILVER_EVENTS
    assert lake.version("silver.events") is None


def test_replace_touches_only_its_partition_and_is_idempotent(
    spark: SparkSession, lake: Lake
) -> None:
    lake.replace(
        bronze_rows(spark, D1, "a", 3), "bronze.events", where={S.INGEST_DATE: D1, S.SOURCE: "a"}
    )
    lake.replace(
        bronze_rows(spark, D1, "b", 2), "bronze.events", where={S.INGEST_DATE: D1, S.SOURCE: "b"}
    )
    lake.replace(
        bronze_rows(spark, D2, "a", 4), "bronze.events", where={S.INGEST_DATE: D2, S.SOURCE: "a"}
    )
    before = lake.read("bronze.events")
    assert before.count() == 9
    snapshot = before.collect()
    lake.replace(
        bronze_rows(spark, D1, "a", 3), "bronze.events", where={S.INGEST_DATE: D1, S.SOURCE: "a"}
    )
    assertDataFrameEqual(lake.read("bronze.events"), snapshot)
    written = lake.replace(
        bronze_rows(spark, D1, "a", 1), "bronze.events", where={S.INGEST_DATE: D1, S.SOURCE: "a"}
    )
    assert written == 1  # the rows this commit wrote, not the table's
    empty = bronze_rows(spark, D2, "b", 0)
    assert lake.replace(empty, "bronze.events", where={S.INGEST_DATE: D2, S.SOURCE: "b"}) == 0
    counts = {
        (r[0], r[1]): r[2]
        for r in lake.read("bronze.events").groupBy(S.INGEST_DATE, S.SOURCE).count().collect()
    }
    assert counts == {(D1, "a"): 1, (D1, "b"): 2, (D2, "a"): 4}


def test_replace_rejects_rows_outside_the_partition(spark: SparkSession, lake: Lake) -> None:
    lake.replace(
        bronze_rows(spark, D1, "a", 2), "bronze.events", where={S.INGEST_DATE: D1, S.SOURCE: "a"}
    )
    with pytest.raises(Exception, match=r"(?i)replaceWhere|does not conform|violat"):
        lake.replace(
            bronze_rows(spark, D2, "a", 1),
            "bronze.events",
            where={S.INGEST_DATE: D1, S.SOURCE: "a"},
        )
    assert lake.read("bronze.events").count() == 2  # the failed write changed nothing


def test_replace_only_on_partition_columns(spark: SparkSession, lake: Lake) -> None:
    with pytest.raises(ValueError, match="not partition columns"):
        lake.replace(bronze_rows(spark, D1, "a", 1), "bronze.events", where={S.RUN_ID: "x"})


def test_tables_are_registered_for_sql(spark: SparkSession, lake: Lake) -> None:
    lake.replace(
        bronze_rows(spark, D1, "a", 2), "bronze.catalog", where={S.INGEST_DATE: D1, S.SOURCE: "a"}
    )
    assert not lake.catalog_persists  # the tests' in-memory catalog: registered on demand
    assert "bronze.catalog" in lake.register_all()
    assert spark.sql("SELECT count(*) FROM bronze.catalog").first()[0] == 2  # type: ignore[index]
    spark.sql("DROP TABLE IF EXISTS bronze.catalog")


def test_write_json(lake: Lake) -> None:
    path = lake.write_json("_quality/results/x.json", {"a": 1})
    assert json.loads(Path(path).read_text()) == {"a": 1}


def test_predicate_quotes_values() -> None:
    assert predicate({"d": D1, "s": "it's"}) == "`d` = '2026-11-01' AND `s` = 'it\\'s'"


# ------------------------------------------------------------------ storage: local and S3
def test_one_rule_says_what_is_local() -> None:
    assert is_local("lake") and is_local("/data/lake") and is_local("file:///data/lake")
    for uri in ("s3a://b/lake", "abfss://c@a.dfs.core.windows.net/x", "gs://b/x", "hdfs://nn/x"):
        assert not is_local(uri), uri
    assert normalize_root("s3a://b/lake/") == "s3a://b/lake"
    assert normalize_root("file:///tmp/x/../lake") == "/tmp/lake"


def test_storage_options_come_from_hadoop_settings() -> None:
    opts = StorageOptions.from_hadoop(
        {
            "spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:9000",
            "fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.secret.key": "s3cr3t",
        }
    )
    assert opts.endpoint == "http://127.0.0.1:9000" and opts.path_style
    assert opts.secret_key == "s3cr3t" and "s3cr3t" not in json.dumps(opts.describe())


def _roundtrip(store: Storage, root: str, tmp_path: Path) -> None:
    doc = join(root, "a", "doc.json")
    assert not store.exists(doc)
    store.write_json(doc, {"x": 1})
    store.write_json(doc, {"x": 2})  # replaced whole
    assert store.read_json(doc) == {"x": 2} and store.is_file(doc)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "one.bin").write_bytes(b"\x00\x01")
    (src / "sub" / "two.txt").write_text("two")
    folder = join(root, "folder")
    store.upload(src, folder)
    assert sorted(store.walk(folder)) == ["one.bin", "sub/two.txt"]
    assert store.listdir(join(root, "a")) == ["doc.json"]
    got = store.download(folder, tmp_path / "back")
    assert (got / "sub" / "two.txt").read_text() == "two"
    store.delete(folder)
    store.delete(folder)  # nothing there is fine
    assert not store.exists(folder) and list(store.walk(folder)) == []


def test_storage_on_a_local_folder(tmp_path: Path) -> None:
    _roundtrip(Storage(), str(tmp_path / "root"), tmp_path)
    assert not [p for p in (tmp_path / "root").rglob("*.tmp")]  # no temporary left


def test_storage_on_s3(s3_spark: SparkSession, s3: S3, tmp_path: Path) -> None:
    store = Storage(StorageOptions.from_spark(s3_spark))
    _roundtrip(store, s3.uri("storage-test"), tmp_path)


def test_lake_on_s3_tables_and_files(s3_spark: SparkSession, s3: S3) -> None:
    lake = Lake(s3_spark, s3.uri("lake-test/"))
    assert lake.root == s3.uri("lake-test")
    where = {S.INGEST_DATE: D1, S.SOURCE: "a"}
    lake.replace(bronze_rows(s3_spark, D1, "a", 3), "bronze.events", where=where)
    lake.replace(bronze_rows(s3_spark, D1, "a", 2), "bronze.events", where=where)
    assert lake.read("bronze.events").count() == 2 and lake.version("bronze.events") == 1
    lake.write_json("_models/x/gate.json", {"promoted": True})
    assert lake.read_json("_models/x/gate.json") == {"promoted": True}
    assert lake.read_json("_models/x/missing.json") is None
    lake.delete_files("_models/x")
    assert lake.read_json("_models/x/gate.json") is None


def test_a_model_saves_to_and_loads_from_s3(s3_spark: SparkSession, s3: S3) -> None:
    from shoprec.models.popularity import Popularity

    train = s3_spark.createDataFrame(
        [(0, 0, 1.0), (0, 1, 1.0), (1, 1, 2.0), (2, 2, 1.0)],
        "user_idx long, item_idx long, weight double",
    )
    model = Popularity().fit(train, n_items=3)
    folder = s3.uri("models-test", "popularity")
    model.save(folder)
    again = Popularity.load(folder)
    users = s3_spark.createDataFrame([(0,), (1,)], "user_idx long")
    assertDataFrameEqual(model.recommend(users, 2), again.recommend(users, 2))


def test_clear_column_and_vacuum_check_their_arguments(lake: Lake) -> None:
    with pytest.raises(ValueError, match="run_id is not a partition column"):
        lake.clear_column("bronze.events", S.RECORD, partition=S.RUN_ID, before=D1)
    with pytest.raises(ValueError, match="source is not a nullable data column"):
        lake.clear_column("bronze.events", S.SOURCE, partition=S.INGEST_DATE, before=D1)
    with pytest.raises(ValueError, match="reason is not a nullable data column"):
        lake.clear_column("silver.quarantine", S.REASON, partition=S.INGEST_DATE, before=D1)
    with pytest.raises(ValueError, match="retain_hours"):
        lake.vacuum("bronze.events", retain_hours=-1)
    assert lake.clear_column("bronze.events", S.RECORD, partition=S.INGEST_DATE, before=D1) == 0


def test_vacuum_runs_only_when_a_commit_removed_files(spark: SparkSession, lake: Lake) -> None:
    where = {S.INGEST_DATE: D1, S.SOURCE: "a"}
    lake.replace(bronze_rows(spark, D1, "a", 2), "bronze.events", where=where)
    assert not lake.vacuum_due("bronze.events", retain_hours=0)  # nothing removed yet
    lake.replace(bronze_rows(spark, D1, "a", 3), "bronze.events", where=where)  # a rerun
    assert lake.vacuum_due("bronze.events", retain_hours=0)
    lake.vacuum("bronze.events", retain_hours=0, only_if_due=True)
    assert not lake.vacuum_due("bronze.events", retain_hours=0)  # deleted by that VACUUM
    # files younger than the retention when the last VACUUM ran are still to delete
    assert lake.vacuum_due("bronze.events", retain_hours=168)
