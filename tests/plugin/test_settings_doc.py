"""docs/settings.md is generated from the Settings classes and must be current."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from mock_server.config import NO_FLAG
from mock_server.convert import leaf_paths
from mock_server.settings import Settings
from mock_server.webhooks.settings import WebhookSettings

ROOT = Path(__file__).resolve().parents[2]


def test_settings_page_is_current(docs_script: Callable[[str], ModuleType]) -> None:
    actual = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert actual == docs_script("gen_settings").render(), (
        "docs/settings.md is stale: run `python docs/gen_settings.py`"
    )


def test_every_key_is_documented_with_a_description(docs_script: Callable[[str], ModuleType]) -> None:
    gen = docs_script("gen_settings")
    page = gen.render()
    for cls, prefix in ((Settings, ""), (WebhookSettings, "webhooks.")):
        docs = gen.attribute_docs(cls)
        for f in dataclasses.fields(cls):
            if f.name not in ("webhooks", "chaos"):
                assert f"`{prefix}{f.name}`" in page
                assert docs.get(f.name), f"{cls.__name__}.{f.name} has no attribute docstring"


def test_every_key_has_an_environment_variable_and_a_flag(docs_script: Callable[[str], ModuleType]) -> None:
    gen = docs_script("gen_settings")
    keys = {".".join(path) for path, _ in leaf_paths(Settings)}
    assert {"seed", "webhooks.max_attempts", "webhooks.chaos.duplicate", "rules"} <= keys  # sections are opened
    assert keys - gen.env_names() == set()
    assert keys - gen.flag_names() == set(NO_FLAG), "give the key a flag or put it on NO_FLAG with a reason"
