"""Site search: normalization, a BM25 index in gold tables, a learned ranker, serving lists.

Modules (pure DataFrame transforms; the stages :mod:`shoprec.stages.search_index`,
:mod:`~shoprec.stages.search_train` and :mod:`~shoprec.stages.search_publish` do the
I/O, and :mod:`shoprec.commands.search` answers ``shoprec search``):

* :mod:`~shoprec.search.logs`: search events -> one row per search with its click/purchase.
* :mod:`~shoprec.search.synonyms`: spelling variants and synonyms learned from clicks.
* :mod:`~shoprec.search.index`: the lexical index (terms, postings, field stats) and BM25.
* :mod:`~shoprec.search.features`: position-bias-corrected CTR, query categories, features.
* :mod:`~shoprec.search.ranker`: LightGBM lambdarank training and executor-side scoring.
* :mod:`~shoprec.search.suggestions`: head queries and autocomplete.

Queries and catalog text go through the one tokenizer in :mod:`shoprec.text`, which
:mod:`shoprec.features.items` shares without importing this package.
"""
