"""Ids: 32 lowercase hex characters, like the upstream's task and request ids.

A seed makes the sequence reproducible (`--seed`); without one ids come from the OS.
"""

from __future__ import annotations

import random
import secrets

__all__ = ["IdFactory"]


class IdFactory:
    """Makes 32-hex ids; `IdFactory(seed=1)` yields the same ids on every run."""

    __slots__ = ("_random",)

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed) if seed is not None else None

    def new(self) -> str:
        if self._random is None:
            return secrets.token_hex(16)
        return f"{self._random.getrandbits(128):032x}"
