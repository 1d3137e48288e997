"""The lake: the one place that turns table names into paths and reads or writes them.

Transforms never see a path. Jobs ask a :class:`Lake` for a table by its
``layer.name`` (see :mod:`shoprec.schemas`), and write a day's rows with
:meth:`Lake.replace`, which replaces exactly the partition the rows belong to in
one Delta commit, so a rerun of a date leaves the same table and a killed run
leaves the previous commit readable.

The root is a local folder or any URI Spark's Hadoop filesystems understand
(``s3a://``, ``abfss://``, ``gs://``, ``hdfs://``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shoprec.schemas import TableSpec, table


def _is_uri(path: str) -> bool:
    return "://" in path or path.startswith("file:")


def normalize_root(root: str) -> str:
    """An absolute local path, or the URI unchanged."""
    return root.rstrip("/") if _is_uri(root) else str(Path(root).resolve())


def sql_literal(value: Any) -> str:
    """A value as a Spark SQL literal for a partition predicate."""
    if isinstance(value, dt.date | dt.datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def predicate(where: dict[str, Any]) -> str:
    """``{"a": 1, "b": "x"}`` -> ``a = 1 AND b = 'x'``."""
    return " AND ".join(f"`{k}` = {sql_literal(v)}" for k, v in where.items())


def conform(df: DataFrame, spec: TableSpec) -> DataFrame:
    """Select the table's columns in schema order, cast to the schema's types."""
    missing = [f.name for f in spec.schema.fields if f.name not in df.columns]
    if missing:
        raise ValueError(f"{spec.name}: rows lack columns {missing}")
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in spec.schema.fields])


class Lake:
    """Delta tables under one root.

    Example::

        lake = Lake(spark, "lake")
        lake.replace(rows, "silver.events", where={"ingest_date": day})
        events = lake.read("silver.events")
    """

    def __init__(self, spark: SparkSession, root: str) -> None:
        self.spark = spark
        self.root = normalize_root(root)
        self._registered: set[str] = set()

    # ------------------------------------------------------------ paths
    def path(self, name: str) -> str:
        """Where table ``layer.name`` lives."""
        layer, tbl = table(name).name.split(".", 1)
        return f"{self.root}/{layer}/{tbl}"

    def file_path(self, *parts: str) -> str:
        """A path for a plain file under the lake root (validation JSON, reports)."""
        return "/".join([self.root, *parts])

    # ------------------------------------------------------------ reads
    def exists(self, name: str) -> bool:
        """Whether the table has at least one commit."""
        return bool(DeltaTable.isDeltaTable(self.spark, self.path(name)))

    def read(self, name: str) -> DataFrame:
        """The table's current version; an empty frame of its schema if never written."""
        spec = table(name)
        if not self.exists(name):
            return self.spark.createDataFrame([], spec.schema)
        return self.spark.read.format("delta").load(self.path(name))

    def version(self, name: str) -> int | None:
        """The table's latest commit version, or None if never written."""
        if not self.exists(name):
            return None
        hist = DeltaTable.forPath(self.spark, self.path(name)).history(1)
        return int(hist.select("version").first()[0])  # type: ignore[index]

    # ------------------------------------------------------------ writes
    def replace(self, df: DataFrame, name: str, *, where: dict[str, Any]) -> None:
        """Replace exactly the rows matching ``where`` with ``df``, in one commit.

        ``where`` names partition columns and the values ``df``'s rows have; Delta
        checks every written row matches it.
        """
        spec = table(name)
        unknown = set(where) - set(spec.partition_by)
        if unknown:
            raise ValueError(f"{name}: replace keys {sorted(unknown)} are not partition columns")
        writer = (
            conform(df, spec)
            .write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", predicate(where))
        )
        if spec.partition_by:
            writer = writer.partitionBy(*spec.partition_by)
        writer.save(self.path(name))
        self.register(name)

    def overwrite(self, df: DataFrame, name: str, *, note: str) -> int:
        """Replace the whole table in one commit; returns the new version.

        Readers see the previous version until the commit lands, then the new
        one, never a mix. ``note`` is kept as the commit's user metadata (the run
        id of a publication), which :meth:`history` shows.
        """
        spec = table(name)
        writer = (
            conform(df, spec)
            .write.format("delta")
            .mode("overwrite")
            .option("overwriteSchema", "false")
            .option("userMetadata", note)
        )
        if spec.partition_by:
            writer = writer.partitionBy(*spec.partition_by)
        writer.save(self.path(name))
        self.register(name)
        version = self.version(name)
        assert version is not None
        return version

    def history(self, name: str) -> list[dict[str, Any]]:
        """The table's commits, newest first: version, timestamp, operation, note."""
        if not self.exists(name):
            return []
        hist = DeltaTable.forPath(self.spark, self.path(name)).history()
        return [
            {
                "version": int(r["version"]),
                "timestamp": r["timestamp"],
                "operation": r["operation"],
                "note": r["userMetadata"],
            }
            for r in hist.select("version", "timestamp", "operation", "userMetadata").collect()
        ]

    def restore(self, name: str, version: int, *, note: str) -> None:
        """Make ``version`` the table's current state again (Delta RESTORE, one commit)."""
        key = "spark.databricks.delta.commitInfo.userMetadata"
        self.spark.conf.set(key, note)
        try:
            DeltaTable.forPath(self.spark, self.path(name)).restoreToVersion(version)
        finally:
            self.spark.conf.unset(key)

    def append(self, df: DataFrame, name: str) -> None:
        """Append rows (for logs such as ops.runs)."""
        spec = table(name)
        writer = conform(df, spec).write.format("delta").mode("append")
        if spec.partition_by:
            writer = writer.partitionBy(*spec.partition_by)
        writer.save(self.path(name))
        self.register(name)

    def append_rows(self, rows: list[dict[str, Any]], name: str) -> None:
        """Append a few Python rows (run records, validation results)."""
        spec = table(name)
        ordered = [tuple(r.get(f.name) for f in spec.schema.fields) for r in rows]
        self.append(self.spark.createDataFrame(ordered, spec.schema), name)

    # ------------------------------------------------------------ catalog
    def register(self, name: str) -> None:
        """Make ``layer.name`` queryable with Spark SQL in this session's catalog.

        The catalog entry is an external table over the lake path; an entry left
        pointing at another lake (another root in the same session) is re-pointed.
        """
        if name in self._registered:
            return
        layer, path = table(name).layer, self.path(name)
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {layer}")
        if self.spark.catalog.tableExists(name):
            detail = self.spark.sql(f"DESCRIBE TABLE EXTENDED {name}").where(
                "col_name = 'Location'"
            )
            location = (detail.first() or [None, ""])[1]
            if str(location).removeprefix("file:").rstrip("/") != path.removeprefix("file:"):
                self.spark.sql(f"DROP TABLE {name}")  # external: the data stays
        self.spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING DELTA LOCATION '{path}'")
        self._registered.add(name)

    def register_all(self) -> list[str]:
        """Register every table that exists; returns their names."""
        from shoprec.schemas import TABLES

        found = [n for n in TABLES if self.exists(n)]
        for n in found:
            self.register(n)
        return found

    # ------------------------------------------------------------ plain files
    def write_json(self, relpath: str, obj: Any) -> str:
        """Write a JSON document under the lake root (local or object store)."""
        target = self.file_path(relpath)
        uri = target.replace("s3a://", "s3://", 1)
        fs, path = pafs.FileSystem.from_uri(uri if _is_uri(uri) else Path(uri).as_uri())
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        tmp = f"{path}.tmp"
        with fs.open_output_stream(tmp) as out:
            out.write(json.dumps(obj, indent=2, default=str).encode())
        fs.move(tmp, path)
        return target
