"""docs/settings.md is generated from the Settings classes and must be current."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from types import ModuleType

from mock_server.settings import Settings
from mock_server.webhooks.settings import WebhookSettings

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_settings", ROOT / "docs" / "gen_settings.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settings_page_is_current() -> None:
    actual = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert actual == _generator().render(), "docs/settings.md is stale: run `python docs/gen_settings.py`"


def test_every_key_is_documented_with_a_description() -> None:
    gen = _generator()
    page = gen.render()
    for cls, prefix in ((Settings, ""), (WebhookSettings, "webhooks.")):
        docs = gen.attribute_docs(cls)
        for f in dataclasses.fields(cls):
            if f.name not in ("webhooks", "chaos"):
                assert f"`{prefix}{f.name}`" in page
                assert docs.get(f.name), f"{cls.__name__}.{f.name} has no attribute docstring"


def test_environment_variables_are_found_by_asking_from_env() -> None:
    names = _generator().env_names()
    assert {"seed", "time_scale", "keys"} <= names
    assert "rules" not in names
