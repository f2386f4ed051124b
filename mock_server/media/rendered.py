from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rendered:
    """A generated file: its bytes, MIME type, file extension (no dot) and the requested format it replaces."""

    data: bytes
    content_type: str
    extension: str
    #: The requested format when the mock could not produce it honestly and served ``extension`` instead.
    fallback_from: str | None = None
