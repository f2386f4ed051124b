"""The ShuYou Predictions API contract: the one OpenAPI 3.1 document that the mock and the harness read.

`load_spec()` returns the parsed document (a fresh copy each call, so callers may mutate it);
`SPEC_PATH` is the YAML file itself, shipped inside the installed package.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SPEC_PATH", "load_spec"]

SPEC_PATH = Path(__file__).with_name("predictions.yaml")


@functools.cache
def _parsed() -> dict[str, Any]:
    with SPEC_PATH.open("rb") as f:
        document: dict[str, Any] = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return document


def load_spec() -> dict[str, Any]:
    """Return the parsed OpenAPI document (a deep copy)."""
    return copy.deepcopy(_parsed())
