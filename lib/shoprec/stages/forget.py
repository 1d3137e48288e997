"""``shoprec forget``: remove users from every table, file and served list of the lake.

Given the shop's own ids, the users are removed from:

* the raw records of bronze.events and silver.quarantine (found by parsing each record
  with its source's format, :func:`~shoprec.clean.erasure.raw_records_of`);
* every table keyed by the pseudonym (silver.events, gold.interactions,
  gold.user_features, gold.user_sequences, gold.id_map) or by the user's index
  (gold.user_item_edges), and the staged lists of every run;
* the served lists at once: gold.user_recommendations is rewritten without them and a
  ``forget`` publication switches the shop to it (no restore goes back past it);
* stored validation results (ops.validations, ``_quality/``) and data docs, where a
  sample of values could hold an id (replaced by ``[forgotten]``).

Each table is one MERGE commit whose record names the join, not the ids. The files
that held the rows are deleted by VACUUM once ``retention.vacuum_hours`` have passed:
at once when that is 0, else by the retention stage of a later night, which reads the
request under ``_ops/erasures/``. The request and its outcome are kept there and in
ops.runs with a receipt per user (:func:`~shoprec.clean.erasure.erasure_token`),
never the id or its pseudonym. Models trained on the users stop serving them now
(their lists are gone, and their index maps to no one) and forget them at the next
retrain, which reads tables without them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from shoprec import schemas as S
from shoprec.clean.erasure import (
    SHOP_ID,
    erasure_token,
    raw_records_of,
    records_with_tokens,
    scrub,
)
from shoprec.clean.privacy import pseudonym_of
from shoprec.errors import InputError
from shoprec.features.ids import USER
from shoprec.lake import Lake, join
from shoprec.serving import publish as pub
from shoprec.stages import handoff
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.runs import stage_run, utcnow

# Tables keyed by the pseudonym; gold.id_map and the edges are handled on their own.
PSEUDONYM_TABLES: tuple[str, ...] = (
    "silver.events",
    "gold.interactions",
    "gold.user_features",
    "gold.user_sequences",
)
ERASURES = "_ops/erasures"


def forget(ctx: RunContext, shop_ids: list[str]) -> StageReport:
    """Remove the users with these shop ids from the lake; see the module docstring."""
    ids = sorted({i.strip() for i in shop_ids if i.strip()})
    if not ids:
        raise InputError("forget: no user ids given")
    report = StageReport("forget", ctx.run_date)
    lake, spark, st = ctx.lake, ctx.spark, ctx.settings
    key = st.privacy.resolve_key()
    pseudonyms = [pseudonym_of(i, key) for i in ids]
    receipts = [erasure_token(i, key) for i in ids]
    with stage_run(ctx, "forget") as rec:
        shop_df = spark.createDataFrame([(i,) for i in ids], f"{SHOP_ID} string")
        users = spark.createDataFrame([(p,) for p in pseudonyms], f"{S.USER_ID} string")
        removed = report.tables

        # ---- raw records, parsed with their source's format
        formats = {s.name: str(s.format) for s in st.sources}
        removed["bronze.events"] = _forget_raw(
            lake, "bronze.events", shop_df, lambda raw: _formats_of_bronze(raw)
        )
        removed["silver.quarantine"] = _forget_raw(
            lake,
            "silver.quarantine",
            shop_df,
            lambda raw: _formats_of_quarantine(raw, formats),
        )

        # ---- by pseudonym, and by index through the id map
        idx = (
            lake.read("gold.id_map")
            .where(F.col(S.ENTITY) == USER)
            .join(users.withColumnRenamed(S.USER_ID, "id"), "id")
            .select(F.col("idx").alias(S.USER_IDX))
        )
        removed["gold.user_item_edges"] = lake.delete_matching(
            "gold.user_item_edges", idx.localCheckpoint(), on=[S.USER_IDX]
        )
        for name in PSEUDONYM_TABLES:
            removed[name] = lake.delete_matching(name, users, on=[S.USER_ID])
        removed["gold.id_map"] = lake.delete_matching(
            "gold.id_map",
            users.select(F.lit(USER).alias(S.ENTITY), F.col(S.USER_ID).alias("id")),
            on=[S.ENTITY, "id"],
        )
        staged = _forget_staged(lake, users)

        # ---- the served lists, at once
        served = _republish_without(lake, users, ctx)
        if served is not None:
            removed["gold.user_recommendations"] = served

        # ---- stored results and data docs
        needles = [*ids, *pseudonyms]
        removed["ops.validations"] = _scrub_validations(lake, needles)
        docs = [lake.file_path("_quality")]
        if st.lake.data_docs_dir:
            docs.append(st.lake.data_docs_dir)
        files = sum(_scrub_files(lake, folder, needles) for folder in docs)

        # ---- the files that held them, once the retention allows
        # every table in scope, not only those that lost rows now: an older version
        # (a rerun's replaced partition) can hold the users too
        touched = sorted(removed)
        request = {
            "request_id": f"erasure-{uuid.uuid4().hex[:12]}",
            "requested_at": utcnow().isoformat(),
            "users": len(ids),
            "receipts": receipts,
            "rows_removed": dict(removed),
            "staged_rows_removed": staged,
            "files_scrubbed": files,
            "tables": touched,
            "staged": handoff.staged_runs(lake, "gold.user_recommendations"),
            "vacuum_after": (utcnow() + dt.timedelta(hours=st.retention.vacuum_hours)).isoformat(),
            "vacuumed_at": None,
        }
        lake.write_json(f"{ERASURES}/{request['request_id']}.json", request)
        if st.retention.vacuum_hours == 0:
            vacuum_erasures(lake, now=utcnow())
        rec.rows_out = sum(removed.values())
        rec.message = (
            f"{request['request_id']}: {len(ids)} users ({', '.join(receipts)}); rows removed "
            + ", ".join(f"{n} {r:,}" for n, r in removed.items() if r)
            + f"; {files} files scrubbed; files vacuumed after {request['vacuum_after']}"
        )
        report.note(rec.message)
    return report


def _formats_of_bronze(raw: DataFrame) -> dict[str, DataFrame]:
    fmts = [r[0] for r in raw.select(S.SOURCE_FORMAT).distinct().collect()]
    return {f: raw.where(F.col(S.SOURCE_FORMAT) == f) for f in fmts}


def _formats_of_quarantine(raw: DataFrame, formats: dict[str, str]) -> dict[str, DataFrame]:
    events = raw.where(F.col(S.ENTITY) == "event")
    out = {}
    for fmt in set(formats.values()):
        names = [n for n, f in formats.items() if f == fmt]
        out[fmt] = events.where(F.col(S.SOURCE).isin(names))
    out[""] = events.where(~F.col(S.SOURCE).isin(list(formats)))  # a source renamed since
    return out


def _forget_raw(lake: Lake, name: str, shop_ids: DataFrame, split: Any) -> int:
    """Delete the users' raw records from ``name`` (bronze.events, silver.quarantine)."""
    raw = lake.read(name).where(F.col(S.RECORD).isNotNull())
    found: DataFrame | None = None
    for fmt, rows in split(raw).items():
        mine = raw_records_of(rows, fmt, shop_ids) if fmt else records_with_tokens(rows, shop_ids)
        found = mine if found is None else found.unionByName(mine)
    if found is None:
        return 0
    return lake.delete_matching(name, found.distinct().localCheckpoint(), on=[S.RECORD])


def _forget_staged(lake: Lake, users: DataFrame) -> int:
    removed = 0
    for rel in handoff.staged_runs(lake, "gold.user_recommendations"):
        removed += lake.delete_matching_at(lake.file_path(rel), users, on=[S.USER_ID])
    return removed


def _republish_without(lake: Lake, users: DataFrame, ctx: RunContext) -> int | None:
    """Serve the current lists without the users: a ``forget`` publication; rows removed."""
    name = "gold.user_recommendations"
    if not lake.exists(name):
        return None
    with pub.switching(lake, ctx.run_id, ctx.settings.locks):
        served = pub.current(lake)
        before = pub.read_published(lake, name).localCheckpoint()
        kept = before.join(F.broadcast(users), S.USER_ID, "left_anti")
        gone = before.count() - kept.count()
        if gone == 0:
            return 0
        version = lake.overwrite(kept, name, note=f"forget {ctx.run_id}")
        runs = {name: served.runs[name]} if served and name in served.runs else {}
        pub.switch(lake, "forget", ctx.run_id, {name: version}, runs)
        return gone


def _scrub_validations(lake: Lake, needles: list[str]) -> int:
    """ops.validations with the ids replaced in each stored result; rows changed."""
    name = "ops.validations"
    if not lake.exists(name):
        return 0
    table = lake.read(name).localCheckpoint()
    fix = F.udf(lambda text: scrub(text, needles) if text else text, StringType())
    scrubbed = table.withColumn("_new", fix(F.col("result_json")))
    changed = scrubbed.where(F.col("_new") != F.col("result_json")).count()
    if changed:
        lake.overwrite(
            scrubbed.drop("result_json").withColumnRenamed("_new", "result_json"),
            name,
            note="forget",
        )
    return changed


def _scrub_files(lake: Lake, folder: str, needles: list[str]) -> int:
    """Rewrite each text file under ``folder`` that holds an id; returns how many."""
    changed = 0
    for rel in lake.storage.walk(folder):
        path = join(folder, rel)
        data = lake.storage.read_bytes(path)
        try:
            text = data.decode()
        except UnicodeDecodeError:
            continue  # images and fonts of the docs site
        new = scrub(text, needles)
        if new != text:
            lake.storage.write_bytes(path, new.encode())
            changed += 1
    return changed


def vacuum_erasures(lake: Lake, *, now: dt.datetime) -> list[str]:
    """VACUUM the tables of every erasure request whose wait has passed; their ids.

    With the rows gone from the tables' current versions, VACUUM at
    ``retention.vacuum_hours`` deletes the files that still held them. Run by forget
    itself when that is 0, else by the nightly retention stage.
    """
    done = []
    for entry in lake.list_files(ERASURES):
        request = lake.read_json(f"{ERASURES}/{entry}")
        if not request or request.get("vacuumed_at"):
            continue
        if dt.datetime.fromisoformat(request["vacuum_after"]) > now:
            continue
        hours = max(
            0,
            int((now - dt.datetime.fromisoformat(request["requested_at"])).total_seconds() // 3600),
        )
        for name in request["tables"]:
            if name.startswith(("gold.", "silver.", "bronze.", "ops.")):
                lake.vacuum(name, retain_hours=hours)
        for rel in request["staged"]:
            lake.vacuum_at(lake.file_path(rel), retain_hours=hours)
        request["vacuumed_at"] = now.isoformat()
        lake.write_json(f"{ERASURES}/{entry}", request)
        done.append(str(request["request_id"]))
    return done
