"""Values made once in the server and shared by reruns and sessions (threads), the last few kept."""
from __future__ import annotations

import threading


class Kept:
    """Up to `limit` values by key, the oldest dropped first. `get(key, make)` makes a missing value
    under a lock, so two sessions asking at once make it once; a `make` that raises stores nothing."""

    def __init__(self, limit: int):
        self.limit = limit
        self.values: dict = {}
        self.lock = threading.Lock()

    def get(self, key, make):
        with self.lock:
            if key not in self.values:
                self.values[key] = make()
                while len(self.values) > self.limit:
                    self.values.pop(next(iter(self.values)))
            return self.values[key]
