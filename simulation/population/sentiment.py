"""Negative sentiment: a shared per-customer quantity with one writer.

Several modules need it — perks raise it when a claim is refused at a stock-out [000], groups
spread and decay it among members and KOCs damp it, and channels, advisers and lifecycle
operations damp responses by it — so it is not any one module's array. It is this object,
created by the model when an enabled module declares that it moves sentiment
(``StrategyModule.moves_sentiment``), and every change goes through its two methods, which keep
the value in [0, 1]. Readers see ``values``, a read-only view.
"""

from __future__ import annotations

import numpy as np


class Sentiment:
    """Negative sentiment in [0, 1] per customer (float32), changed only by its methods."""

    def __init__(self, n: int) -> None:
        self._values = np.zeros(n, dtype=np.float32)
        self.values = self._values.view()
        self.values.flags.writeable = False

    def complain(self, idx: np.ndarray, amount: float) -> None:
        """Raise the sentiment of customers ``idx`` by ``amount`` (capped at 1)."""
        self._values[idx] = np.minimum(self._values[idx] + amount, 1.0)

    def writable(self) -> np.ndarray:
        """The values themselves, for a compiled kernel that keeps them in [0, 1] as
        :meth:`assign` does (groups' mixing, :func:`simulation.kernels.group_sentiment`)."""
        return self._values

    def assign(self, idx: np.ndarray, values: np.ndarray) -> None:
        """Set the sentiment of customers ``idx`` (e.g. after mixing within a group), clipped
        to [0, 1]."""
        self._values[idx] = np.clip(values, 0.0, 1.0)
