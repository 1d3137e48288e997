"""Site search: normalization, a BM25 index in gold tables, a learned ranker, serving lists.

Modules (pure DataFrame transforms; the pipeline stages in
:mod:`shoprec.pipeline.search` do the I/O):

* :mod:`~shoprec.search.logs`: search events -> one row per search with its click/purchase.
* :mod:`~shoprec.search.synonyms`: spelling variants and synonyms learned from clicks.
* :mod:`~shoprec.search.index`: the lexical index (terms, postings, field stats) and BM25.
* :mod:`~shoprec.search.features`: position-bias-corrected CTR, query categories, features.
* :mod:`~shoprec.search.ranker`: LightGBM lambdarank training and executor-side scoring.
* :mod:`~shoprec.search.suggestions`: head queries and autocomplete.
* :mod:`~shoprec.search.service`: ``search_command`` behind ``shoprec search``.

Queries and catalog text go through the one tokenizer in :mod:`shoprec.text`, which
:mod:`shoprec.features.items` shares without importing this package.
"""
