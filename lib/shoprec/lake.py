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
import io
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shoprec import faults
from shoprec.errors import ShoprecError
from shoprec.schemas import TableSpec, table


def is_local(path: str) -> bool:
    """Whether ``path`` is on this machine's filesystem: a plain path or a ``file:`` URI.

    The one rule for it: every other scheme (``s3a://``, ``abfss://``, ``gs://``,
    ``hdfs://``) is a filesystem that Spark reaches through Hadoop and Python code
    through :class:`Storage`.
    """
    return urlsplit(path).scheme in ("", "file")


def local_path(path: str) -> str:
    """The plain absolute path of a local ``path`` (``file:`` prefix removed)."""
    if not is_local(path):
        raise ValueError(f"{path} is not a local path")
    if path.startswith("file:"):
        path = urlsplit(path).path
    return str(Path(path).resolve())


def normalize_root(root: str) -> str:
    """An absolute local path, or the URI without a trailing slash."""
    return local_path(root) if is_local(root) else root.rstrip("/")


def join(root: str, *parts: str) -> str:
    """``root/part/...`` for a local path or a URI."""
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts if p)])


# ---------------------------------------------------------------------- plain files
# Hadoop's S3A settings (spark.hadoop.fs.s3a.* in conf, or the cluster's
# core-site.xml): Python code reaches the same buckets with the same settings.
_S3A_KEYS = {
    "endpoint": "fs.s3a.endpoint",
    "access_key": "fs.s3a.access.key",
    "secret_key": "fs.s3a.secret.key",
    "session_token": "fs.s3a.session.token",
    "region": "fs.s3a.endpoint.region",
    "path_style": "fs.s3a.path.style.access",
    "ssl": "fs.s3a.connection.ssl.enabled",
}
_S3_SCHEMES = ("s3a", "s3", "s3n")


@dataclass(frozen=True)
class StorageOptions:
    """How Python code (the driver, executors, Horovod ranks) reaches the lake's storage.

    Spark reaches it through Hadoop; Python reads and writes the lake's plain files
    (models, hand-off documents, data docs) with pyarrow's filesystems, configured
    from the same Hadoop settings so there is one place to set them. Unset values fall
    back to the platform's defaults (the AWS credential chain, instance roles).
    Picklable: executors get it with the task.
    """

    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    region: str | None = None
    path_style: bool = False
    ssl: bool = True

    @classmethod
    def from_hadoop(cls, conf: Mapping[str, str]) -> StorageOptions:
        """From Hadoop keys (``fs.s3a.endpoint`` ...); ``spark.hadoop.`` prefixes are allowed."""
        plain = {k.removeprefix("spark.hadoop."): v for k, v in conf.items()}
        values: dict[str, Any] = {}
        for attr, key in _S3A_KEYS.items():
            value = plain.get(key)
            if value is None or value == "":
                continue
            values[attr] = (
                value.strip().lower() == "true" if attr in ("path_style", "ssl") else value
            )
        return cls(**values)

    @classmethod
    def from_spark(cls, spark: SparkSession) -> StorageOptions:
        """From the session's Hadoop configuration (conf, spark-defaults, core-site.xml)."""
        hadoop = spark.sparkContext._jsc.hadoopConfiguration()
        return cls.from_hadoop(
            {key: hadoop.get(key) for key in _S3A_KEYS.values() if hadoop.get(key) is not None}
        )

    def describe(self) -> dict[str, Any]:
        """The settings without secrets (for logs)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("access_key", "secret_key", "session_token")
        }


@lru_cache(maxsize=16)
def _s3(options: StorageOptions) -> pafs.FileSystem:
    endpoint, scheme = options.endpoint, "https" if options.ssl else "http"
    if endpoint and "://" in endpoint:
        scheme, endpoint = endpoint.split("://", 1)
    return pafs.S3FileSystem(
        access_key=options.access_key,
        secret_key=options.secret_key,
        session_token=options.session_token,
        region=options.region or "us-east-1",
        endpoint_override=endpoint,
        scheme=scheme,  # pyarrow 14 addresses buckets path-style, which every store takes
    )


class UnsupportedStorage(ShoprecError):
    """The lake's filesystem lacks an operation a feature needs (the message names both)."""


def _s3_put_if_absent(options: StorageOptions, path: str, data: bytes) -> bool:
    """One conditional PUT of ``bucket/key`` (``If-None-Match: *``): False if the key exists."""
    import boto3  # the AWS SDK, only where the lake is on S3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    bucket, key = path.split("/", 1)
    endpoint = options.endpoint
    if endpoint and "://" not in endpoint:
        endpoint = ("https://" if options.ssl else "http://") + endpoint
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=options.access_key,
        aws_secret_access_key=options.secret_key,
        aws_session_token=options.session_token,
        region_name=options.region or "us-east-1",
        config=Config(s3={"addressing_style": "path" if options.path_style else "auto"}),
    )
    try:
        client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
    except ClientError as err:
        # 412: the key exists; 409: a concurrent conditional PUT of the key won
        if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (409, 412):
            return False
        raise
    return True


def _filesystem(uri: str, options: StorageOptions) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem for ``uri`` and the path within it."""
    if is_local(uri):
        return pafs.LocalFileSystem(), local_path(uri)
    parts = urlsplit(uri)
    path = f"{parts.netloc}{parts.path}".rstrip("/")
    if parts.scheme in _S3_SCHEMES:
        return _s3(options), path
    if parts.scheme in ("gs", "gcs"):
        return pafs.GcsFileSystem(), path
    if parts.scheme in ("hdfs", "viewfs"):
        fs, inner = pafs.FileSystem.from_uri(uri)
        return fs, inner
    # abfss://, wasbs:// and the rest: through fsspec, when its package is installed
    try:
        import fsspec
    except ImportError:
        raise ValueError(f"{uri}: no filesystem for {parts.scheme}:// (install fsspec)") from None
    fs = pafs.PyFileSystem(pafs.FSSpecHandler(fsspec.filesystem(parts.scheme)))
    return fs, path


class Storage:
    """Plain files (bytes, JSON, folders) on any filesystem the lake can live on.

    Every file the pipeline writes outside Delta tables goes through here: each
    write is atomic (a reader sees the old file or the whole new one: a temporary
    file renamed into place on local disks and HDFS, a single PUT on object stores).

    Example::

        store = Storage(StorageOptions.from_spark(spark))
        store.write_json("s3a://shop-lake/_models/2026-11-01/gate.json", {"promoted": True})
        store.read_json("s3a://shop-lake/_models/2026-11-01/gate.json")
    """

    def __init__(self, options: StorageOptions | None = None) -> None:
        self.options = options or StorageOptions()

    def _fs(self, uri: str) -> tuple[pafs.FileSystem, str]:
        return _filesystem(uri, self.options)

    # ---------------------------------------------------------------- reads
    def exists(self, uri: str) -> bool:
        """Whether a file or a non-empty folder is at ``uri``."""
        fs, path = self._fs(uri)
        return fs.get_file_info(path).type in (pafs.FileType.File, pafs.FileType.Directory)

    def is_file(self, uri: str) -> bool:
        fs, path = self._fs(uri)
        return bool(fs.get_file_info(path).type == pafs.FileType.File)

    def read_bytes(self, uri: str) -> bytes:
        fs, path = self._fs(uri)
        with fs.open_input_stream(path) as f:
            return bytes(f.read())

    def read_json(self, uri: str) -> Any:
        return json.loads(self.read_bytes(uri))

    def listdir(self, uri: str) -> list[str]:
        """Names directly under the folder ``uri`` (empty if it does not exist)."""
        fs, path = self._fs(uri)
        try:
            infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        except FileNotFoundError:
            return []
        return sorted(i.base_name for i in infos)

    def walk(self, uri: str) -> Iterator[str]:
        """Every file under the folder ``uri``, as paths relative to it."""
        fs, path = self._fs(uri)
        selector = pafs.FileSelector(path, recursive=True, allow_not_found=True)
        for info in fs.get_file_info(selector):
            if info.type == pafs.FileType.File:
                yield info.path[len(path) :].lstrip("/")

    # ---------------------------------------------------------------- writes
    def write_bytes(self, uri: str, data: bytes) -> str:
        """Write ``data`` to ``uri`` atomically; returns ``uri``."""
        fs, path = self._fs(uri)
        parent = path.rsplit("/", 1)[0]
        if isinstance(fs, pafs.LocalFileSystem | pafs.HadoopFileSystem):
            fs.create_dir(parent, recursive=True)
            tmp = f"{parent}/.{path.rsplit('/', 1)[-1]}.{uuid.uuid4().hex[:8]}.tmp"
            with fs.open_output_stream(tmp) as out:
                out.write(data)
            if isinstance(fs, pafs.LocalFileSystem):
                os.replace(tmp, path)  # atomic, and replaces an existing file
            else:
                fs.move(tmp, path)
        else:  # object stores: one PUT is atomic
            with fs.open_output_stream(path) as out:
                out.write(data)
        return uri

    def write_json(self, uri: str, obj: Any) -> str:
        return self.write_bytes(uri, json.dumps(obj, indent=2, default=str).encode())

    def create_new(self, uri: str, data: bytes) -> bool:
        """Write ``data`` to ``uri`` only if nothing is there, atomically; False if something was.

        Of any number of writers racing for one ``uri``, exactly one gets True (what
        run locks and the publication log are built on). Local disks: a hard link of
        a complete temporary file, which fails when the name exists. S3 (AWS, MinIO
        and most compatible stores): a conditional PUT (``If-None-Match: *``).
        """
        fs, path = self._fs(uri)
        if isinstance(fs, pafs.LocalFileSystem):
            parent = Path(path).parent
            parent.mkdir(parents=True, exist_ok=True)
            tmp = parent / f".{Path(path).name}.{uuid.uuid4().hex[:8]}.tmp"
            tmp.write_bytes(data)
            try:
                os.link(tmp, path)
                return True
            except FileExistsError:
                return False
            finally:
                tmp.unlink()
        if urlsplit(uri).scheme in _S3_SCHEMES:
            return _s3_put_if_absent(self.options, path, data)
        raise UnsupportedStorage(
            f"{uri}: run locks need an atomic create-if-absent, which shoprec has for local "
            f"paths and S3, not yet for {urlsplit(uri).scheme}://; set locks.enabled: false "
            "to run without them"
        )

    def delete(self, uri: str) -> None:
        """Remove the file or folder at ``uri``; nothing there is fine."""
        fs, path = self._fs(uri)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.File:
            fs.delete_file(path)
        elif info.type == pafs.FileType.Directory:
            fs.delete_dir(path)
        elif not isinstance(fs, pafs.LocalFileSystem):
            # object stores have no folders: delete whatever sits under the prefix
            for rel in list(self.walk(uri)):
                fs.delete_file(f"{path}/{rel}")

    def upload(self, local_dir: str | Path, uri: str) -> str:
        """Copy the local folder ``local_dir`` to ``uri`` (replacing what is there)."""
        self.delete(uri)
        src = Path(local_dir)
        for file in sorted(p for p in src.rglob("*") if p.is_file()):
            self.write_bytes(join(uri, file.relative_to(src).as_posix()), file.read_bytes())
        return uri

    def download(self, uri: str, local_dir: str | Path) -> Path:
        """Copy the folder at ``uri`` into the local folder ``local_dir``; returns it."""
        dst = Path(local_dir)
        for rel in self.walk(uri):
            target = dst / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.read_bytes(join(uri, rel)))
        return dst


def save_npy(storage: Storage, uri: str, array: Any) -> None:
    """A numpy array as ``.npy`` bytes at ``uri``."""
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    storage.write_bytes(uri, buf.getvalue())


def load_npy(storage: Storage, uri: str) -> Any:
    """The numpy array stored at ``uri`` by :func:`save_npy`."""
    import numpy as np

    return np.load(io.BytesIO(storage.read_bytes(uri)), allow_pickle=False)


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


def last_commit_rows(spark: SparkSession, path: str, *, after: int | None = None) -> int:
    """Rows the latest commit of the Delta table at ``path`` wrote (``numOutputRows``).

    Read from the commit's own record, so it costs no pass over the data; the one
    writer of a table (or of its partition) per stage and date reads its own commit.
    ``after``: the version before the write; when it is still the latest, the write
    committed nothing (Delta skips an overwrite of no rows over no rows): 0.
    """
    hist = DeltaTable.forPath(spark, path).history(1)
    version, metrics = hist.select("version", "operationMetrics").first()  # type: ignore[misc]
    if after is not None and int(version) <= after:
        return 0
    return int((metrics or {}).get("numOutputRows", 0))


class LakeFiles:
    """The plain files under a lake root: everything the pipeline writes that is not a
    Delta table (hand-off documents, saved models, quality results, data docs).

    A :class:`Lake` is one; ``LakeFiles`` alone serves what needs no Spark (``shoprec
    gate`` reading the night's decision).

    Example::

        files = LakeFiles("s3a://shop/lake", Storage(StorageOptions.from_hadoop(conf)))
        files.write_json("_models/2026-11-01/gate.json", {"promoted": True})
    """

    def __init__(self, root: str, storage: Storage) -> None:
        self.root = normalize_root(root)
        self.storage = storage

    def file_path(self, *parts: str) -> str:
        """Where a plain file under the lake root lives (a URI on object storage)."""
        return join(self.root, *parts)

    def write_json(self, relpath: str, obj: Any) -> str:
        """Write a JSON document under the lake root, atomically; returns its path."""
        path = self.storage.write_json(self.file_path(relpath), obj)
        faults.point(f"files.write.{relpath.split('/', 1)[0]}")
        return path

    def read_json(self, relpath: str) -> Any:
        """A JSON document under the lake root, or None when there is none."""
        path = self.file_path(relpath)
        return self.storage.read_json(path) if self.storage.is_file(path) else None

    def create_json(self, relpath: str, obj: Any) -> bool:
        """Write a JSON document under the lake root only if none is there (atomic)."""
        data = json.dumps(obj, indent=2, default=str).encode()
        return self.storage.create_new(self.file_path(relpath), data)

    def list_files(self, relpath: str) -> list[str]:
        """Names directly under a folder of the lake root (empty if there is none)."""
        return self.storage.listdir(self.file_path(relpath))

    def delete_files(self, relpath: str) -> None:
        """Remove a plain file or folder under the lake root (nothing there is fine)."""
        self.storage.delete(self.file_path(relpath))

    def upload(self, local_dir: str | Path, relpath: str) -> str:
        """Copy a local folder to ``relpath`` under the root (replacing it); returns its path."""
        return self.storage.upload(local_dir, self.file_path(relpath))


# operationMetrics keys of the files a commit removed (WRITE/UPDATE/DELETE/RESTORE; MERGE)
_REMOVED_FILES = ("numRemovedFiles", "numTargetFilesRemoved")


class Lake(LakeFiles):
    """Delta tables (and, as :class:`LakeFiles`, plain files) under one root.

    Example::

        lake = Lake(spark, "lake")
        lake.replace(rows, "silver.events", where={"ingest_date": day})
        events = lake.read("silver.events")
    """

    def __init__(self, spark: SparkSession, root: str) -> None:
        super().__init__(root, Storage(StorageOptions.from_spark(spark)))
        self.spark = spark
        self._registered: set[str] = set()
        # A metastore (Hive, Glue, Unity) keeps what is registered: register tables as
        # they are written. Spark's in-memory catalog forgets them when the job ends, so
        # there a stage skips that DDL and readers call register_all() when they want
        # the tables by name.
        impl = spark.conf.get("spark.sql.catalogImplementation", "in-memory")
        self.catalog_persists = impl == "hive"

    # ------------------------------------------------------------ paths
    def path(self, name: str) -> str:
        """Where table ``layer.name`` lives."""
        layer, tbl = table(name).name.split(".", 1)
        return f"{self.root}/{layer}/{tbl}"

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

    def read_version(self, name: str, version: int) -> DataFrame:
        """The table as commit ``version`` left it (Delta time travel)."""
        return self.spark.read.format("delta").option("versionAsOf", version).load(self.path(name))

    def version(self, name: str) -> int | None:
        """The table's latest commit version, or None if never written."""
        if not self.exists(name):
            return None
        hist = DeltaTable.forPath(self.spark, self.path(name)).history(1)
        return int(hist.select("version").first()[0])  # type: ignore[index]

    # ------------------------------------------------------------ writes
    def replace(self, df: DataFrame, name: str, *, where: dict[str, Any]) -> int:
        """Replace exactly the rows matching ``where`` with ``df``, in one commit.

        ``where`` names partition columns and the values ``df``'s rows have; Delta
        checks every written row matches it. Returns the rows written, as the commit
        recorded them (no second pass over the data to count them).
        """
        spec = table(name)
        unknown = set(where) - set(spec.partition_by)
        if unknown:
            raise ValueError(f"{name}: replace keys {sorted(unknown)} are not partition columns")
        before = self.version(name)
        self._save(df, spec, "overwrite", replaceWhere=predicate(where))
        return self.rows_written(name, after=before)

    def rows_written(self, name: str, *, after: int | None = None) -> int:
        """Rows the table's latest commit wrote; see :func:`last_commit_rows`."""
        return last_commit_rows(self.spark, self.path(name), after=after)

    def overwrite(self, df: DataFrame, name: str, *, note: str) -> int:
        """Replace the whole table in one commit; returns the new version.

        Readers see the previous version until the commit lands, then the new
        one, never a mix. ``note`` is kept as the commit's user metadata (the run
        id of a publication), which :meth:`history` shows.
        """
        self._save(df, table(name), "overwrite", overwriteSchema="false", userMetadata=note)
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

    def append(self, df: DataFrame, name: str) -> None:
        """Append rows (for logs such as ops.runs)."""
        self._save(df, table(name), "append")

    def _save(self, df: DataFrame, spec: TableSpec, mode: str, **options: str) -> None:
        """The one Delta write: the table's columns, partitioning and statistics."""
        writer = conform(df, spec).write.format("delta").mode(mode).options(**options)
        if spec.skipping_stats:  # a table property, set by the write that creates the table
            writer = writer.option("delta.dataSkippingStatsColumns", ",".join(spec.skipping_stats))
        if spec.partition_by:
            writer = writer.partitionBy(*spec.partition_by)
        writer.save(self.path(spec.name))
        faults.point(f"lake.write.{spec.name}")
        if self.catalog_persists:
            self.register(spec.name)

    def append_rows(self, rows: list[dict[str, Any]], name: str) -> None:
        """Append a few Python rows (run records, validation results)."""
        spec = table(name)
        ordered = [tuple(r.get(f.name) for f in spec.schema.fields) for r in rows]
        self.append(self.spark.createDataFrame(ordered, spec.schema), name)

    # ------------------------------------------------------------ retention
    # Dropping a column's values for good takes two steps: null them in place (one
    # commit: the old files leave the table but stay on storage for time travel), then
    # VACUUM deletes the files that no version within its retention uses.
    _DELTA_SAFE_RETAIN_HOURS = 168  # Delta's default delta.deletedFileRetentionDuration

    def clear_column(self, name: str, column: str, *, partition: str, before: Any) -> int:
        """Set ``column`` to null in every row whose ``partition`` value is below ``before``.

        One commit (Delta UPDATE), scoped by the partition column: only the files of
        those partitions that still hold a value are rewritten, and the rows keep every
        other column. A rerun finds nothing to change and commits nothing. Returns the
        rows changed, as the commit recorded them.

        Example::

            lake.clear_column("bronze.events", "record", partition="ingest_date", before=day)
        """
        spec = table(name)
        if partition not in spec.partition_by:
            raise ValueError(f"{name}: {partition} is not a partition column")
        field = next((f for f in spec.schema.fields if f.name == column), None)
        if field is None or column in spec.partition_by or not field.nullable:
            raise ValueError(f"{name}: {column} is not a nullable data column")
        after = self.version(name)
        if after is None:
            return 0
        delta = DeltaTable.forPath(self.spark, self.path(name))
        # With deletion vectors on (a table property some platforms set by default), an
        # UPDATE only marks the old rows deleted: the file holding their values stays
        # live, out of VACUUM's reach. Rewrite the files instead.
        rewrite = {"spark.databricks.delta.update.deletionVectors.persistent": "false"}
        with self._session_conf(rewrite):
            delta.update(
                condition=f"`{partition}` < {sql_literal(before)} AND `{column}` IS NOT NULL",
                set={column: F.lit(None).cast(field.dataType)},
            )
        version, metrics = delta.history(1).select("version", "operationMetrics").first()  # type: ignore[misc]
        if int(version) <= after:  # nothing held a value: no commit
            return 0
        return int((metrics or {}).get("numUpdatedRows", 0))

    def vacuum(self, name: str, *, retain_hours: int, only_if_due: bool = False) -> None:
        """Delete the table's files that no version of the last ``retain_hours`` hours uses.

        What a commit replaced (a rerun's old partition, the old files of a cleared
        column) is readable by time travel until then, and gone from storage after.
        Delta refuses less than 168 hours while its retention check is on, because a
        reader or writer still on an older version could lose files under it; a
        shorter ``retain_hours`` turns the check off for this call only (a caller
        asking for it knows no such reader is running), never for the session.

        ``only_if_due``: skip it when :meth:`vacuum_due` finds nothing to delete.

        Example::

            lake.vacuum("bronze.events", retain_hours=168)
        """
        if retain_hours < 0:
            raise ValueError(f"retain_hours must be >= 0, got {retain_hours}")
        if not self.exists(name):
            return
        if only_if_due and not self.vacuum_due(name, retain_hours=retain_hours):
            return
        self.vacuum_at(self.path(name), retain_hours=retain_hours)

    def vacuum_due(self, name: str, *, retain_hours: int) -> bool:
        """Whether a VACUUM of ``name`` could delete a file a commit removed.

        True when a commit removed files that the last VACUUM could not yet delete
        (they were younger than ``retain_hours`` then), or that no VACUUM has seen.
        Read from the table's history, so a night with nothing to delete skips the
        listing of every file of the table that VACUUM does (minutes on a large table
        in object storage). Files a failed write left outside the log wait for the
        next VACUUM that runs.
        """
        hist = (
            DeltaTable.forPath(self.spark, self.path(name))
            .history()
            .select("operation", F.unix_timestamp("timestamp").alias("ts"), "operationMetrics")
            .collect()
        )
        vacuums = [int(r["ts"]) for r in hist if r["operation"] == "VACUUM END"]
        last = max(vacuums) if vacuums else None
        for r in hist:
            metrics = r["operationMetrics"] or {}
            removed = sum(int(metrics.get(k) or 0) for k in _REMOVED_FILES)
            if removed and (last is None or int(r["ts"]) + retain_hours * 3600 > last):
                return True
        return False

    def vacuum_at(self, path: str, *, retain_hours: int) -> None:
        """:meth:`vacuum` of the Delta table at ``path`` (a staged table, say)."""
        if retain_hours < 0:
            raise ValueError(f"retain_hours must be >= 0, got {retain_hours}")
        check = "spark.databricks.delta.retentionDurationCheck.enabled"
        unchecked = {check: "false"} if retain_hours < self._DELTA_SAFE_RETAIN_HOURS else {}
        with self._session_conf(unchecked):
            DeltaTable.forPath(self.spark, path).vacuum(float(retain_hours))

    # ------------------------------------------------------------ erasure
    def delete_matching(self, name: str, keys: DataFrame, *, on: list[str]) -> int:
        """Delete the rows of table ``name`` whose ``on`` columns equal a row of ``keys``."""
        if not self.exists(name):
            return 0
        return self.delete_matching_at(self.path(name), keys, on=on)

    def delete_matching_at(self, path: str, keys: DataFrame, *, on: list[str]) -> int:
        """Delete the rows of the Delta table at ``path`` matching a row of ``keys``; one commit.

        A MERGE, so the commit's record names the join, never the values deleted (a
        DELETE's predicate would keep them in the log). The files that held the rows
        are rewritten without them, deletion vectors or not, so VACUUM can take the old
        files. Returns the rows deleted (0 and no commit when none matched).
        """
        delta = DeltaTable.forPath(self.spark, path)
        before = int(delta.history(1).select("version").first()[0])  # type: ignore[index]
        cond = " AND ".join(f"t.`{c}` <=> k.`{c}`" for c in on)
        rewrite = {"spark.databricks.delta.merge.deletionVectors.persistent": "false"}
        with self._session_conf(rewrite):
            delta.alias("t").merge(
                F.broadcast(keys.select(*on).distinct()).alias("k"), cond
            ).whenMatchedDelete().execute()
        version, metrics = delta.history(1).select("version", "operationMetrics").first()  # type: ignore[misc]
        if int(version) <= before:
            return 0
        return int((metrics or {}).get("numTargetRowsDeleted", 0))

    @contextmanager
    def _session_conf(self, conf: dict[str, str]) -> Iterator[None]:
        """Spark session settings for the ``with`` block only; what was set before is put back."""
        previous = {key: self.spark.conf.get(key, None) for key in conf}
        for key, value in conf.items():
            self.spark.conf.set(key, value)
        try:
            yield
        finally:
            for key, was in previous.items():
                if was is None:
                    self.spark.conf.unset(key)
                else:
                    self.spark.conf.set(key, was)

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
