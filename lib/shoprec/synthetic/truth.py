"""Ground truth planted in the data, for tests that check it is learnable."""

from __future__ import annotations

from shoprec.synthetic.catalog import build_catalog
from shoprec.synthetic.spec import ShopSpec
from shoprec.synthetic.users import build_staples, build_users, user_id
from shoprec.synthetic.vocab import LEAVES


def planted_tastes(spec: ShopSpec) -> dict[str, dict[str, float]]:
    """Each user's preferred category paths and their weights (summing to 1)."""
    users = build_users(spec, build_catalog(spec))
    tastes: dict[str, dict[str, float]] = {}
    for index in range(users.size):
        prefs: dict[str, float] = {}
        for leaf, weight in zip(
            users.pref_leaf[index].tolist(), users.pref_weight[index].tolist(), strict=True
        ):
            if weight > 0:
                path = LEAVES[leaf].path
                prefs[path] = prefs.get(path, 0.0) + weight
        tastes[user_id(index)] = prefs
    return tastes


def planted_staples(spec: ShopSpec) -> dict[str, list[str]]:
    """Items each user re-buys on a schedule (consumables), by user id."""
    catalog = build_catalog(spec)
    staples = build_staples(spec, build_users(spec, catalog), catalog)
    out: dict[str, list[str]] = {}
    for user, item in zip(staples.user.tolist(), staples.item.tolist(), strict=True):
        out.setdefault(user_id(user), []).append(catalog.ids[item])
    return out
