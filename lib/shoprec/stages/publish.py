"""The publish stage: tonight's staged lists become the served ones, in one switch.

Each serving table gets its new version, then one row of gold.publications makes the
shop's readers see all of them at once (:mod:`shoprec.serving.publish`).

Once the lists are out, the model that made them becomes the champion when evaluate
promoted it (the registry alias moves only now).
"""

from __future__ import annotations

from shoprec.errors import InputError
from shoprec.registry import Registry
from shoprec.serving.publish import SERVING_TABLES
from shoprec.serving.publish import publish as publish_tables
from shoprec.stages import handoff
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.runs import stage_run


def publish(ctx: RunContext) -> StageReport:
    """Publish tonight's staged lists (all serving tables in one switch)."""
    report = StageReport("publish", ctx.run_date)
    lake, day = ctx.lake, ctx.run_date
    with stage_run(ctx, "publish") as rec:
        staged = handoff.read_staged(lake, day)
        if staged is None:
            raise InputError(f"publish: nothing staged for {day}; run score first")
        run_id = staged["run_id"]
        frames = handoff.staged_tables(ctx.spark, lake, SERVING_TABLES, run_id)
        pub = publish_tables(lake, frames, run_id=run_id, locks=ctx.settings.locks)
        for name in pub.changed:  # as the tables' commits recorded them, no re-read
            report.tables[name] = lake.rows_written(name)
        rec.rows_out = report.tables["gold.user_recommendations"]
        rec.model_version = staged.get("model_version")
        rec.message = f"publication {pub.number}: " + ", ".join(
            f"{n}@{pub.tables[n]}" for n in pub.changed
        )
        if staged.get("promote"):
            # The lists are out: the model that made them is now the champion.
            Registry(ctx.settings.registry, lake.root).promote(staged["promote"])
            rec.message += f"; champion -> v{staged['promote']}"
        report.note(rec.message)
    return report
