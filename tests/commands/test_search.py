"""The live search command's pure parts (the command itself runs in tests/stages/test_search.py)."""

from __future__ import annotations

from shoprec.commands.search import personalize


def test_personalize_moves_liked_categories_up() -> None:
    rows = [
        {
            "rank": 1,
            "item_id": "a",
            "score": 3.0,
            "reason": "title matches",
            "category_path": "home/x",
        },
        {
            "rank": 2,
            "item_id": "b",
            "score": 2.9,
            "reason": "title matches",
            "category_path": "sports/y",
        },
        {
            "rank": 3,
            "item_id": "c",
            "score": 1.0,
            "reason": "title matches",
            "category_path": "home/z",
        },
    ]
    out = personalize(rows, {"sports": 0.8, "home": 0.1}, weight=0.3, k=2)
    assert [r["item_id"] for r in out] == ["b", "a"]
    assert [r["rank"] for r in out] == [1, 2]
    assert out[0]["reason"].endswith("you like sports")
    assert [r["item_id"] for r in personalize(rows, {}, weight=0.3, k=3)] == ["a", "b", "c"]
