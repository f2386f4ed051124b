"""`serve --watch`: reload the `--config` file while the mock runs, keeping its tasks, journal and clock.

The file is polled with `os.stat` every `interval` seconds of wall time on the server's event loop.
`bench/bench_watch.py` measures the idle cost against the same mock without `--watch` (2026-12-02, machine
shared: +40 to +80 ms CPU per minute, under 0.15 % of a core). watchfiles (inotify in a Rust thread) would save that
at the price of a dependency and of the file systems where inotify does not fire (network and some bind
mounts); stat behaves the same everywhere, editors that rename a new file over the old one included. On a change the
file is read again the way startup read it (file, then `MOCK_*` variables, then CLI flags). Fields a
running mock can adopt (`RUNTIME_FIELDS`: rules, outcomes, durations, prices, keys, credits, limits,
errors, latency, body limits) apply to the requests that follow; the others (bind, store, seed, secrets,
webhooks, access rules, journal size) are reported as needing a restart. A file that does not load is
logged and shown at `/_mock/config`; the last good settings stay in force.

With `--workers N` every worker watches the file itself (`MOCK_WATCH=1`, which the supervisor sets, read
by `mock_server.asgi`): each worker holds its own settings, so each reloads them, within one `interval`
of the others; `/_mock/config` names the process that answered.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.config import load_settings
from mock_server.context import MockContext
from mock_server.errors import SettingsError
from mock_server.settings import Settings

__all__ = [
    "RUNTIME_FIELDS",
    "WATCH_VARIABLE",
    "ConfigWatcher",
    "ReloadStatus",
    "changed_fields",
    "watched",
    "watched_path",
    "watching",
]

WATCH_VARIABLE = "MOCK_WATCH"
"""Set to 1, `uvicorn mock_server.asgi:app` (and so each `--workers` worker) watches MOCK_CONFIG's file."""

RUNTIME_FIELDS = frozenset(
    {
        "rules",
        "time_scale",
        "durations",
        "prices",
        "model_prices",
        "discount_percent",
        "keys",
        "auth_error_status",
        "default_balance",
        "balances",
        "rate_limit",
        "rate_limits",
        "failure_probability",
        "error",
        "latency",
        "max_body_bytes",
        "max_json_depth",
    }
)
_log = logging.getLogger("uvicorn.error")  # the CLI's console logger


def changed_fields(old: Settings, new: Settings) -> tuple[str, ...]:
    """Names of the settings that differ, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(Settings) if getattr(old, f.name) != getattr(new, f.name))


@dataclass(frozen=True, slots=True)
class ReloadStatus:
    """What `/_mock/config` shows: the file, whether its last version loaded, and what the last reload did."""

    path: str
    state: Literal["ok", "invalid"] = "ok"
    reloads: int = 0
    """Versions of the file applied since startup."""
    applied: tuple[str, ...] = ()
    """Settings the last good reload changed at runtime."""
    needs_restart: tuple[str, ...] = ()
    """Settings changed in the file that only a restart applies (still the startup values)."""
    error: str | None = None
    """Why the file's current version was refused (the last good one stays in force)."""
    checked_at: float | None = None
    """Mock-clock time of the last change seen."""

    def as_dict(self) -> dict[str, Any]:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"watching": True, **fields, "process": os.getpid()}  # with --workers: which worker answered


class ConfigWatcher:
    """Polls one config file and applies its new versions to a running app's context."""

    def __init__(
        self,
        path: str | Path,
        load: Callable[[], Settings],
        context: MockContext,
        *,
        loaded: Settings,
        interval: float = 0.5,
    ) -> None:
        self.path = Path(path)
        self._load = load
        self._context = context
        self._startup = loaded  # as loaded at startup (before serve adds a generated token)
        self._loaded = loaded  # the file's last good version
        self.interval = interval
        self._stamp = self._stat()
        self.status = ReloadStatus(str(self.path))

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def poll(self) -> bool:
        """One look at the file; reload when it changed. True when something was seen."""
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        self.reload()
        return True

    def reload(self) -> ReloadStatus:
        now = self._context.clock.now()
        ctx = self._context
        try:
            new = self._load()
            runtime = tuple(name for name in changed_fields(self._loaded, new) if name in RUNTIME_FIELDS)
            restart = tuple(name for name in changed_fields(self._startup, new) if name not in RUNTIME_FIELDS)
            effective = ctx.settings.replace(**{name: getattr(new, name) for name in runtime})
            ctx.service.reconfigure(effective, rules="rules" in runtime)  # refuses rules the spec cannot match
        except SettingsError as exc:
            self.status = dataclasses.replace(self.status, state="invalid", error=str(exc), checked_at=now)
            _log.error("shuyou-mock: --watch: %s; the last good config stays in force [%d]", exc, os.getpid())
            return self.status
        # MockContext is frozen for every other purpose; this is the one place a running app's settings change.
        object.__setattr__(ctx, "settings", effective)
        self._loaded = new
        self.status = ReloadStatus(str(self.path), "ok", self.status.reloads + 1, runtime, restart, None, now)
        _log.info(
            "shuyou-mock: --watch: reloaded %s (applied: %s%s) [%d]",  # [pid] as uvicorn names its workers
            self.path,
            ", ".join(runtime) or "nothing changed",
            f"; needs a restart: {', '.join(restart)}" if restart else "",
            os.getpid(),
        )
        return self.status

    async def run(self) -> None:
        while True:
            await anyio.sleep(self.interval)
            self.poll()


def watched_path(environ: Mapping[str, str], config: str | None = None) -> str:
    """The file `--watch` polls; a SettingsError (a startup error) when there is none."""
    path = config or environ.get("MOCK_CONFIG")
    if not path:
        raise SettingsError("--watch: there is no file to watch; give --config <file.yaml> (or MOCK_CONFIG)")
    return path


def watched(
    app: Any,
    loaded: Settings,
    environ: Mapping[str, str],
    config: str | None = None,
    flags: Mapping[str, Any] | None = None,
) -> ASGIApp:
    """`app` watching its config file (`config`, else MOCK_CONFIG), reloaded from the sources startup read."""
    path = watched_path(environ, config)
    load = functools.partial(load_settings, environ, config, flags)
    return watching(app, ConfigWatcher(path, load, app.state.mock, loaded=loaded))


def watching(app: Any, watcher: ConfigWatcher) -> ASGIApp:
    """`app` with `watcher` polling for as long as its lifespan runs; `/_mock/config` shows its status."""
    app.state.config_watcher = watcher

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(watcher.run)
            try:
                await app(scope, receive, send)
            finally:
                tg.cancel_scope.cancel()

    return asgi
