"""Gold features: silver events and the catalog snapshot of a date D -> model inputs of D.

Every builder is a pure DataFrame -> DataFrame transform of the silver events dated
on or before D (``as_of``) and, where needed, the silver.items snapshot of D; each
output row carries ``as_of_date`` = D (except the id map, which is cumulative).

========================  ==============================================================
table                     built by
========================  ==============================================================
gold.interactions         :func:`~shoprec.features.interactions.interactions`
gold.id_map               :func:`~shoprec.features.ids.assign_ids` /
                          :func:`~shoprec.features.ids.new_id_rows` (rows to append)
gold.user_item_edges      :func:`~shoprec.features.ids.edges`
gold.item_cooccurrence    :func:`~shoprec.features.cooccurrence.item_cooccurrence`
gold.item_features        :func:`~shoprec.features.items.item_features`
gold.user_features        :func:`~shoprec.features.users.user_features`
gold.user_sequences       :func:`~shoprec.features.sequences.user_sequences`
========================  ==============================================================

Order within a night: interactions -> id map rows -> edges; item features -> user
features; co-occurrence and sequences depend on events only.
"""
