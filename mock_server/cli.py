"""`python -m mock_server serve ...` / `shuyou-mock serve ...`: the only reader of argv."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from mock_server.errors import SettingsError

if TYPE_CHECKING:
    from mock_server.settings import Settings

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shuyou-mock", description="A local mock of the ShuYou AI Predictions API.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the mock server")
    serve.add_argument("--config", default=None, help="YAML config file (keys = Settings fields)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument("--watch", action="store_true", help="reload --config when the file changes (keeps state)")
    from mock_server.config import add_setting_flags

    add_setting_flags(serve)  # --host, --port, --seed, --time-scale, --store, --workers, --webhook-secret, ...
    proxy = sub.add_parser("proxy", help="a recording, validating reverse proxy to --target (docs/drift.md)")
    proxy.add_argument("--target", required=True, help="the API to forward to, e.g. https://api.shuyou.ai")
    proxy.add_argument("--record", required=True, help="cassette to write (JSON Lines, secrets redacted)")
    proxy.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    proxy.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    return parser


def _example_body() -> dict[str, Any]:
    import openapi

    for value in openapi.request_examples().values():
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k != "webhook"}
    return {}


def banner(base_url: str, secret: str | None, key: str = "sk-test") -> str:
    body = json.dumps(_example_body(), separators=(",", ":"))
    auth = shlex.quote(f"Authorization: Bearer {key}")  # a key the mock accepts: the first of `keys` when set
    curl = f"curl -s {base_url}/v1/predictions -H {auth} -H 'Content-Type: application/json' -d {shlex.quote(body)}"
    lines = [
        f"ShuYou mock listening on {base_url}",
        f"  try:      {curl}",
        f"  poll:     curl -s {base_url}/v1/predictions/<task_id> -H {auth}",
        f"  control:  {base_url}/_mock/health  (docs: {base_url}/_mock/openapi.json; spec: {base_url}/openapi.json)",
        f"  inspect:  {base_url}/_mock/ui  (tasks, webhooks, requests, clock, rules and credits, live in a browser)",
    ]
    if secret:
        lines.append(f"  webhooks: signed with {secret}")
    return "\n".join(lines)


def _with_token(settings: Settings) -> Settings:
    """On a non-loopback bind, other machines need a token for /_mock: the configured one or a fresh one."""
    from mock_server.access import host_name, is_loopback_name

    if settings.admin_token or is_loopback_name(host_name(settings.host)):
        return settings
    import secrets

    return settings.replace(admin_token=secrets.token_urlsafe(24))


def token_line(base_url: str, settings: Settings) -> str:
    return (
        f"  token:    /_mock and /metrics from other machines need 'X-Mock-Token: {settings.admin_token}'"
        f" (inspector: {base_url}/_mock/ui?token={settings.admin_token})"
    )


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mock_server.app import create_app
    from mock_server.config import flag_mapping, load_settings

    flags = flag_mapping(vars(args))
    settings = load_settings(os.environ, args.config, flags)
    loaded, settings = settings, _with_token(settings)
    if settings.workers > 1:  # several processes: one metrics directory for all of them
        from mock_server.metrics import prepare_multiprocess

        prepare_multiprocess(os.environ)
        return _serve_workers(args, settings)
    app = create_app(settings)
    served: Any = app
    if args.watch:
        from mock_server.watch import watched

        served = watched(app, loaded, os.environ, args.config, flags)  # reloaded as startup read it
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets (else Nagle adds ~40 ms per keep-alive request)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        print(f"shuyou-mock: cannot bind {settings.host}:{settings.port}: {exc.strerror}", file=sys.stderr)
        return 2
    sock.listen(2048)  # accept into the backlog at once, so the printed curl works even before uvicorn is up
    port = sock.getsockname()[1]
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    secret = settings.webhook_secrets[0]
    print(banner(f"http://{host}:{port}", secret, settings.keys[0] if settings.keys else "sk-test"), flush=True)
    if settings.admin_token:
        reachable = socket.gethostname() if settings.host in ("0.0.0.0", "::") else host  # a name others can use
        print(token_line(f"http://{reachable}:{port}", settings), flush=True)
    # ws="none": the API has no WebSocket routes, and uvicorn's "auto" imports `websockets` (~20 ms at startup)
    config = uvicorn.Config(served, log_level="info", access_log=args.access_log, lifespan="on", ws="none")
    with _sigterm_is_a_stop():
        uvicorn.Server(config).run(sockets=[sock])
    return 0


class _Terminated(Exception):
    pass


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated


@contextlib.contextmanager
def _sigterm_is_a_stop() -> Iterator[None]:
    """Exit 0 after uvicorn's graceful shutdown on SIGTERM, as on Ctrl-C.

    uvicorn handles SIGTERM itself, shuts down, restores the handler it found and then re-raises the signal
    (`signal.raise_signal`, uvicorn 0.29+) for "the expected behaviour": under SIG_DFL that kills the process,
    exit 143. Found here, the handler ends the run instead. (The `--workers` supervisor re-raises nothing.)
    """
    if threading.current_thread() is not threading.main_thread():  # signal.signal works in the main thread only
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    except _Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve_workers(args: argparse.Namespace, settings: Settings) -> int:
    """`--workers N`: uvicorn's multiprocess supervisor; each worker builds the app from the same settings.

    The workers import `mock_server.asgi:app`, which reads MOCK_* variables: the flags given here are
    passed to them that way (the store is shared, so they behave as one mock).
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from mock_server.config import flag_paths
    from mock_server.store import open_store

    open_store(settings.store).close()  # an unreachable store is a clear startup error here, not in N workers
    given = vars(args)
    flags = {"MOCK_" + "__".join(path).upper(): given.get("__".join(path)) for path, _ in flag_paths()}
    flags.update({"MOCK_CONFIG": args.config, "MOCK_STORE": settings.store, "MOCK_ADMIN_TOKEN": settings.admin_token})
    if args.watch:  # each worker watches the file itself (mock_server.asgi)
        from mock_server.watch import WATCH_VARIABLE, watched_path

        watched_path(os.environ, args.config)
        flags[WATCH_VARIABLE] = "1"
    os.environ.update({name: str(value) for name, value in flags.items() if value is not None})
    config = uvicorn.Config(
        "mock_server.asgi:app",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
        access_log=args.access_log,
        lifespan="on",
        ws="none",
    )
    sock = config.bind_socket()
    sock.listen(2048)  # as in serve(): connections made before the workers are up wait in the backlog, not refused
    port = sock.getsockname()[1]
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    secret = settings.webhook_secrets[0]
    print(banner(f"http://{host}:{port}", secret, settings.keys[0] if settings.keys else "sk-test"), flush=True)
    if settings.admin_token:
        print(token_line(f"http://{host}:{port}", settings), flush=True)
    print(f"  workers:  {settings.workers} processes sharing {settings.store}", flush=True)
    Multiprocess(config, sockets=[sock]).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "proxy":
            from mock_server import proxy

            code = 0
            with _sigterm_is_a_stop():
                code = proxy.run(args.target, args.record, host=args.host, port=args.port)
            return code
    except SettingsError as exc:
        print(f"shuyou-mock: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: uvicorn has shut down cleanly and re-raised SIGINT; that is a normal stop
        return 0
    return 1  # pragma: no cover - argparse requires a command
