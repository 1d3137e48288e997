"""A fixed train/test split in the public benchmark format, generated reproducibly.

The public implicit-feedback splits (Gowalla, Yelp2018, Amazon-book as LightGCN's
authors published them) are two files of ``user_id item_id item_id ...`` lines. This
writes a split of the same shape with the structure those data have, so
``shoprec benchmark`` can be run at their size on a machine that cannot download
them:

* items belong to topics and have Zipf-distributed popularity within a topic;
* each user likes one to three topics (Dirichlet weights) and some global hits;
* a user's items form a sequence: the next item is often a close successor of the
  previous one in its topic (series, accessories, refills), otherwise a draw from the
  user's topics by popularity, or a global bestseller;
* each line keeps a user's distinct items in the order they were first touched;
  the last ``test_share`` of each user's items (at least one) form the test line.
  Sequential models can read line order as time order.

``python -m shoprec.bench.splitgen --users 70000 --items 25000 --out DIR`` writes
``DIR/train.txt`` and ``DIR/test.txt`` and prints their sizes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from shoprec.errors import InputError


@dataclass(frozen=True)
class SplitSpec:
    """The size and shape of a generated split."""

    users: int = 70_000
    items: int = 25_000
    topics: int = 100
    mean_items_per_user: float = 12.0  # distinct items per user, before the split
    min_items_per_user: int = 3
    test_share: float = 0.2
    successor_prob: float = 0.45  # next item follows the previous one in its topic
    global_prob: float = 0.1  # next item is a global bestseller
    zipf: float = 1.1
    seed: int = 7

    def check(self) -> None:
        if self.users <= 0 or self.items <= 0:
            raise InputError("users and items must be > 0")
        if not 0 < self.test_share < 1:
            raise InputError(f"test_share must be in (0, 1), got {self.test_share}")
        if self.min_items_per_user < 2:
            raise InputError("min_items_per_user must be >= 2 (one to train, one to test)")
        if self.mean_items_per_user < self.min_items_per_user:
            raise InputError("mean_items_per_user must be >= min_items_per_user")
        if self.topics <= 0 or self.topics > self.items:
            raise InputError(f"topics must be in [1, items], got {self.topics}")


def _draw(cdf: np.ndarray, rng: np.random.Generator) -> int:
    return min(int(np.searchsorted(cdf, rng.random(), side="right")), cdf.size - 1)


def generate_split(spec: SplitSpec) -> tuple[list[list[int]], list[list[int]]]:
    """Per user (line i = user i): the train items and the test items, in order."""
    spec.check()
    rng = np.random.default_rng(spec.seed)
    topic_of = rng.integers(0, spec.topics, size=spec.items)
    members = [np.flatnonzero(topic_of == t) for t in range(spec.topics)]
    members = [m if m.size else rng.integers(0, spec.items, size=1) for m in members]
    # Popularity within a topic: Zipf over a random order of the topic's items.
    topic_cdf = []  # draws by inverse CDF: rng.choice(p=...) rebuilds it on every call
    for m in members:
        rng.shuffle(m)
        w = np.cumsum(1.0 / np.arange(1, m.size + 1) ** spec.zipf)
        topic_cdf.append(w / w[-1])
    topic_size = np.array([m.size for m in members], dtype=float)
    topic_weight = topic_size / topic_size.sum()
    global_w = 1.0 / np.arange(1, spec.items + 1) ** spec.zipf
    global_order = rng.permutation(spec.items)
    global_cdf = np.cumsum(global_w) / global_w.sum()
    position = np.empty(spec.items, dtype=np.int64)  # an item's place in its topic's order
    for m in members:
        position[m] = np.arange(m.size)

    extra = spec.mean_items_per_user - spec.min_items_per_user
    lengths = spec.min_items_per_user + rng.geometric(1.0 / (1.0 + extra), size=spec.users) - 1
    lengths = np.minimum(lengths, spec.items)
    train: list[list[int]] = []
    test: list[list[int]] = []
    for n in lengths:
        k = int(rng.integers(1, 4))
        liked = rng.choice(spec.topics, size=k, replace=False, p=topic_weight)
        mix = rng.dirichlet(np.ones(k))
        seen: dict[int, None] = {}
        prev = -1
        tries = 0
        while len(seen) < n and tries < 20 * n:
            tries += 1
            u = rng.random()
            if prev >= 0 and u < spec.successor_prob:
                m = members[topic_of[prev]]
                step = int(rng.integers(1, 4))
                item = int(m[(position[prev] + step) % m.size])
            elif u < spec.successor_prob + spec.global_prob:
                item = int(global_order[_draw(global_cdf, rng)])
            else:
                t = int(liked[rng.choice(k, p=mix)])
                item = int(members[t][_draw(topic_cdf[t], rng)])
            if item not in seen:
                seen[item] = None
                prev = item
        items = list(seen)
        n_test = max(1, round(spec.test_share * len(items)))
        train.append(items[:-n_test])
        test.append(items[-n_test:])
    return train, test


def write_split(spec: SplitSpec, out: Path) -> dict[str, int]:
    """Generate ``spec`` into ``out/train.txt`` and ``out/test.txt``; their sizes."""
    train, test = generate_split(spec)
    out.mkdir(parents=True, exist_ok=True)
    for name, lists in (("train.txt", train), ("test.txt", test)):
        with (out / name).open("w") as f:
            for user, items in enumerate(lists):
                f.write(" ".join(map(str, [user, *items])) + "\n")
    sizes = {
        "users": len(train),
        "items_used": len({i for items in train + test for i in items}),
        "train_interactions": sum(map(len, train)),
        "test_interactions": sum(map(len, test)),
    }
    (out / "spec.json").write_text(json.dumps({**asdict(spec), **sizes}, indent=2) + "\n")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shoprec.bench.splitgen")
    parser.add_argument("--out", required=True, help="folder for train.txt and test.txt")
    parser.add_argument("--users", type=int, default=SplitSpec.users)
    parser.add_argument("--items", type=int, default=SplitSpec.items)
    parser.add_argument("--topics", type=int, default=SplitSpec.topics)
    parser.add_argument("--mean-items", type=float, default=SplitSpec.mean_items_per_user)
    parser.add_argument("--seed", type=int, default=SplitSpec.seed)
    args = parser.parse_args(argv)
    spec = SplitSpec(
        users=args.users,
        items=args.items,
        topics=args.topics,
        mean_items_per_user=args.mean_items,
        seed=args.seed,
    )
    print(json.dumps(write_split(spec, Path(args.out))))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
