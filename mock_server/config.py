"""The sources of the settings, in order: defaults, the YAML file, `MOCK_*` variables, `serve` flags.

This module reads the outside world (a file, the environment it is given, parsed flags); turning what
it read into `Settings` is `Settings.from_mapping` / `from_env`, through the one converter
(`mock_server.convert`). `serve`'s flags are derived here from the fields: every key has one
(`--time-scale`, `--webhooks-max-attempts`), except those in `NO_FLAG`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mock_server.convert import label, leaf_paths
from mock_server.errors import SettingsError
from mock_server.settings import Settings

__all__ = ["NO_FLAG", "add_setting_flags", "flag_mapping", "load_settings", "read_config"]

#: Keys without a `serve` flag, with the reason (every key has a `MOCK_*` variable).
NO_FLAG: Mapping[str, str] = {}


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


def flag_paths() -> list[tuple[tuple[str, ...], Any]]:
    """Every settings key that has a flag, with its type."""
    return [(path, hint) for path, hint in leaf_paths(Settings) if ".".join(path) not in NO_FLAG]


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """`--<key>` for every settings key (`--webhooks-chaos-duplicate`); values are read as `MOCK_*` text is."""
    for path, hint in flag_paths():
        flag, dest = label("--", "_".join(path)), "__".join(path)
        if hint is bool:  # `--replay-strict` alone means true; `--replay-strict false` is accepted too
            parser.add_argument(
                flag, dest=dest, nargs="?", const="true", default=None, help=f"setting {'.'.join(path)}"
            )
        else:
            parser.add_argument(flag, dest=dest, default=None, metavar="VALUE", help=f"setting {'.'.join(path)}")


def flag_mapping(parsed: Mapping[str, Any]) -> dict[str, Any]:
    """The settings flags that were given, nested like the YAML file (`webhooks__max_attempts` -> webhooks)."""
    out: dict[str, Any] = {}
    for path, _ in flag_paths():
        value = parsed.get("__".join(path))
        if value is None:
            continue
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def load_settings(
    environ: Mapping[str, str],
    config: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Settings:
    """Config file (`config` or MOCK_CONFIG), then MOCK_* variables, then `flags` (`flag_mapping`), then overrides."""
    settings = Settings()
    path = config or environ.get("MOCK_CONFIG")
    if path:
        settings = Settings.from_mapping(read_config(path), settings)
    settings = Settings.from_env(environ, settings)
    if flags:
        settings = Settings.from_mapping(flags, settings, "--")
    changes = {k: v for k, v in overrides.items() if v is not None}
    return settings.replace(**changes) if changes else settings
