"""Reading configuration from the outside world: a YAML file and the environment, into one `Settings`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mock_server.errors import SettingsError
from mock_server.settings import Settings

__all__ = ["load_settings", "read_config"]


def read_config(path: str | Path) -> dict[str, Any]:
    """Parse a YAML config file; any problem is a SettingsError naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"--config {path}: cannot read the file ({exc.strerror})") from None
    import yaml  # lazily: PyYAML costs ~20 ms at startup (bench/bench_startup.py)

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"--config {path}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"--config {path}: the top level must be a mapping of settings")
    return data


def load_settings(environ: Mapping[str, str], config: str | Path | None = None, **overrides: Any) -> Settings:
    """Config file (`config` or MOCK_CONFIG), then MOCK_* variables, then explicit overrides (CLI flags)."""
    settings = Settings()
    path = config or environ.get("MOCK_CONFIG")
    if path:
        settings = Settings.from_mapping(read_config(path), settings)
    settings = Settings.from_env(environ, settings)
    changes = {k: v for k, v in overrides.items() if v is not None}
    return settings.replace(**changes) if changes else settings
