"""Ids: 32 lowercase hex characters, like the upstream's task and request ids.

A seed makes the sequence reproducible (`--seed`); without one the generator is seeded from the OS.
"""

from __future__ import annotations

import random
import secrets

__all__ = ["IdFactory"]


class IdFactory:
    """Makes 32-hex ids; `IdFactory(seed=1)` yields the same ids on every run."""

    __slots__ = ("_random",)

    def __init__(self, seed: int | None = None) -> None:
        # Ids need to be unique, not secret: a PRNG seeded once from the OS is ~5x cheaper than urandom per id.
        self._random = random.Random(seed if seed is not None else secrets.randbits(128))

    def new(self) -> str:
        return f"{self._random.getrandbits(128):032x}"
