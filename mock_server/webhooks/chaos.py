"""Webhook chaos planning: which chaos a delivery gets, and the out-of-order pairing, as pure decisions.

Rules:
- A task's own `webhook_chaos` (a `WebhookChaos`, or a mapping like the `chaos:` settings, e.g. from a
  rule) replaces the configured chaos for its deliveries; an unreadable one falls back to the settings.
- `plan()` draws a delivery's chaos once, from the seeded random source: `duplicate` and `bad_signature`
  with their probabilities (in that order, so a seed gives the same plan on every run).
- `Pairing` swaps consecutive deliveries of different tasks: the first one is held; the next one of
  another task goes first, then the held one. The next one of the *same* task releases the held one
  first (one task's events stay in order) and is held in its place. A held delivery goes alone when its
  window closes (`release()`). Pure: the shell keeps the window's timer.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mock_server.webhooks.settings import WebhookChaos

__all__ = ["Batch", "Pairing", "chaos_for", "plan"]

Batch = tuple[str, ...]
"""Delivery ids sent one after the other, in this order."""


def chaos_for(override: WebhookChaos | Mapping[str, Any] | None, default: WebhookChaos) -> WebhookChaos:
    """The chaos for a task carrying `override` (None or empty: `default`); SettingsError when unreadable."""
    if not override:
        return default
    if isinstance(override, WebhookChaos):
        return override
    return WebhookChaos.from_mapping(override, prefix="webhook_chaos")


def plan(chaos: WebhookChaos, rng: random.Random) -> frozenset[str]:
    """The chaos one delivery gets: a subset of {'duplicate', 'bad_signature'}."""
    planned: set[str] = set()
    if chaos.duplicate and rng.random() < chaos.duplicate:
        planned.add("duplicate")
    if chaos.bad_signature and rng.random() < chaos.bad_signature:
        planned.add("bad_signature")
    return frozenset(planned)


@dataclass(slots=True)
class Pairing:
    """The out-of-order pairing: at most one delivery held, waiting for a partner of another task."""

    held: tuple[str, str] | None = None
    """(delivery id, task id) of the held delivery."""

    def offer(self, delivery_id: str, task_id: str) -> tuple[tuple[Batch, ...], bool]:
        """The batches to send now, and whether `delivery_id` is now held (start its window)."""
        if self.held is None:
            self.held = (delivery_id, task_id)
            return (), True
        held_id, held_task = self.held
        if held_task == task_id:
            self.held = (delivery_id, task_id)
            return ((held_id,),), True
        self.held = None
        return ((delivery_id, held_id),), False  # the newer one first, then the older

    def release(self) -> str | None:
        """The held delivery's id, to send alone (its window closed), or None."""
        held, self.held = self.held, None
        return held[0] if held else None
