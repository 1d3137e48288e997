"""Synthetic e-commerce shop: the pipeline's embedded default data set and its test data.

Usage::

    from shoprec.synthetic import ShopSpec, generate_shop
    report = generate_shop(ShopSpec(users=200, items=80, days=2), out_dir)

Layout under ``out_dir`` (pure Python + numpy, streamed day by day):

* ``events/date=D/events.jsonl``: canonical events, one JSON object per line, every
  line with all :data:`EVENT_KEYS` (null where not applicable). ``D`` is the UTC
  date of the events; timestamps carry the user's local offset.
* ``catalog/date=D/catalog.jsonl``: the catalog as of ``D``, one item per line.
* ``manifest.json``: the spec, per-day counts of clean events by type, dirty
  records by kind (:data:`MANIFEST_DIRTY_KINDS`), bot user ids and catalog sizes.
  Per day, ``lines == events + dirty_lines``. Written last.
"""

from shoprec.synthetic.bench import BenchmarkResult, benchmark, spec_for_events
from shoprec.synthetic.dirty import BOT_EVENTS, DIRTY_KIND_NAMES, MANIFEST_DIRTY_KINDS
from shoprec.synthetic.events import EVENT_KEYS, EVENT_TYPES
from shoprec.synthetic.generate import GenerationReport, OutputExistsError, as_source, generate_shop
from shoprec.synthetic.spec import ShopSpec, SpecError
from shoprec.synthetic.truth import planted_staples, planted_tastes

__all__ = [
    "BOT_EVENTS",
    "DIRTY_KIND_NAMES",
    "EVENT_KEYS",
    "EVENT_TYPES",
    "MANIFEST_DIRTY_KINDS",
    "BenchmarkResult",
    "GenerationReport",
    "OutputExistsError",
    "ShopSpec",
    "SpecError",
    "as_source",
    "benchmark",
    "generate_shop",
    "planted_staples",
    "planted_tastes",
    "spec_for_events",
]
