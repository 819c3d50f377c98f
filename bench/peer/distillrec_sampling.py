"""distillrec's training draws, reproduced in NumPy, so that a peer trains on exactly the batches distillrec does.

distillrec's trainer (src/train/trainer.ts), given a seed and a UniformSampler, before every epoch redraws
each sample's negative (src/train/training-data.ts redrawNegatives: uniform over the catalogue, rejecting the
user's training items, 64 tries and then a uniform pick among the unseen) from DataRng(seed ^ 0x6e656761), and
then shuffles the sample order (Fisher-Yates, src/data/rng.ts) with DataRng(seed). DataRng is splitmix32: a
Weyl sequence state += 0x9e3779b9 through the murmur3 finaliser, so its k-th draw is mix32(s0 + k * 0x9e3779b9)
and a block of draws is one vectorised expression.
"""
import numpy as np

_WEYL = np.uint32(0x9E3779B9)


def _mix32(z):
    z = z.astype(np.uint32)
    z = (z ^ (z >> np.uint32(16))) * np.uint32(0x85EBCA6B)
    z = (z ^ (z >> np.uint32(13))) * np.uint32(0xC2B2AE35)
    return z ^ (z >> np.uint32(16))


class DataRng:
    """src/data/rng.ts DataRng: the same seed gives the same draws."""

    def __init__(self, seed):
        self.state = int(_mix32(np.array([(int(seed) ^ 0x5BD1E995) & 0xFFFFFFFF], dtype=np.uint32))[0])

    def uint32(self, count):
        """The next `count` 32-bit draws."""
        with np.errstate(over="ignore"):
            k = np.arange(1, count + 1, dtype=np.uint32)
            states = np.uint32(self.state) + k * _WEYL
            self.state = int(states[-1]) if count else self.state
            return _mix32(states)

    def ints(self, n, count):
        """`count` draws of int(n): floor(u / 2^32 * n), n a scalar or an array."""
        return np.floor(self.uint32(count) / 4294967296.0 * n).astype(np.int64)

    def shuffle(self, values):
        """Fisher-Yates in place, i from the last index down to 1 with j = int(i + 1)."""
        n = len(values)
        i = np.arange(n - 1, 0, -1)
        js = self.ints(i + 1, n - 1).tolist()
        for a, b in zip(i.tolist(), js):
            values[a], values[b] = values[b], values[a]
        return values


class Draws:
    """The negatives and sample order of each epoch, as distillrec's trainer draws them for `seed`."""

    def __init__(self, seed, users, seen, n_items):
        self.order_rng = DataRng(seed)
        self.negative_rng = DataRng(seed ^ 0x6E656761)
        self.users = users.tolist()
        self.seen = seen
        self.n_items = n_items
        self.order = list(range(len(users)))
        self._pool = []

    def _draw(self, n):
        if not self._pool:
            self._pool = self.negative_rng.ints(n, 65536).tolist()[::-1]
        return self._pool.pop()

    def _negative(self, user):
        seen = self.seen[user]
        for _ in range(64):
            item = self._draw(self.n_items)
            if item not in seen:
                return item
        # The generator's next draw (the pool drew ahead: step back over what it holds) picks among the
        # unseen items in id order.
        self.negative_rng.state = (self.negative_rng.state - len(self._pool) * 0x9E3779B9) & 0xFFFFFFFF
        self._pool.clear()
        target = int(self.negative_rng.ints(self.n_items - len(seen), 1)[0])
        for item in range(self.n_items):
            if item in seen:
                continue
            if target == 0:
                return item
            target -= 1
        raise ValueError(f"user {user} has seen every item")

    def epoch(self):
        """(order, negatives) of the next epoch, as int64 arrays."""
        negatives = np.array([self._negative(u) for u in self.users], dtype=np.int64)
        # The pool is the generator's future; what is left of it stays in order for the next epoch.
        return np.array(self.order_rng.shuffle(self.order), dtype=np.int64), negatives
