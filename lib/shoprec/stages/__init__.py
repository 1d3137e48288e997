"""The nightly stages (the I/O edge), one module each, named as the jobs and DAG tasks are.

Each stage is ``stage(ctx: RunContext) -> StageReport``: it reads its inputs from the
lake at the top, calls the pure transforms of the package it belongs to, writes the
run date's partitions at the end, and leaves an ops.runs record
(:func:`~shoprec.stages.runs.stage_run`).

=================  ==============================================================
stage              reads -> writes
=================  ==============================================================
ingest             source feeds -> bronze.events, bronze.catalog
validate           bronze -> silver.items, silver.events, silver.quarantine
retention          raw records past retention.raw_days -> null (bronze, quarantine)
features           silver -> gold feature tables, gold.id_map
train              gold, silver -> saved models (hand-off files)
evaluate           saved models -> ops.metrics, registry, gate decision
score              selected model -> staged serving lists
publish            staged lists -> gold.user_recommendations, similar, popular
search_index       catalog, search logs -> gold search index, rewrites, categories
search_train       index, search logs -> ranker (hand-off file), ops.metrics
search_publish     ranker, index -> gold.search_results, gold.query_suggestions
=================  ==============================================================

Beside them: :mod:`~shoprec.stages.context` (RunContext, StageReport),
:mod:`~shoprec.stages.runs` (run records), :mod:`~shoprec.stages.inputs` (lake reads
several stages share), :mod:`~shoprec.stages.handoff` (the files stages hand each
other), :mod:`~shoprec.stages.nightly` (the order a night runs in) and
:mod:`~shoprec.stages.summary` (what a person reads after a run).
"""
