"""Site search: normalization, a BM25 index in gold tables, a learned ranker, serving lists.

Modules (pure DataFrame transforms; the pipeline stages in
:mod:`shoprec.pipeline.search` do the I/O):

* :mod:`~shoprec.search.normalize`: the one tokenizer for catalog text and queries.
* :mod:`~shoprec.search.logs`: search events -> one row per search with its click/purchase.
* :mod:`~shoprec.search.synonyms`: spelling variants and synonyms learned from clicks.
* :mod:`~shoprec.search.index`: the lexical index (terms, postings, field stats) and BM25.
* :mod:`~shoprec.search.features`: position-bias-corrected CTR, query categories, features.
* :mod:`~shoprec.search.ranker`: LightGBM lambdarank training and executor-side scoring.
* :mod:`~shoprec.search.suggestions`: head queries and autocomplete.
* :mod:`~shoprec.search.service`: ``search_command`` behind ``shoprec search``.

This package's ``__init__`` imports nothing, so :mod:`shoprec.features.items` can use
the tokenizer without a cycle.
"""
