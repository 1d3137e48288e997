"""Serving: re-ranking candidates into published lists, and atomic publication.

The shop reads gold.user_recommendations, gold.similar_items and
gold.popular_items; each publication replaces a table whole in one Delta commit.
"""
