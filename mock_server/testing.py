"""Run an app on a real socket in a background thread: `serve_in_thread(app)` (tests, the plugin, benches)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

__all__ = ["LiveServer", "serve_in_thread"]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the main thread owns signals
        pass


@dataclass
class LiveServer:
    """A running uvicorn: `base_url`, the `app`, and `stop()`."""

    base_url: str
    app: Any
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(app: Any, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0) -> LiveServer:
    """Start `app` under uvicorn on `host:port` (0 = a free port) and return once it accepts connections."""
    # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on such sockets (else Nagle adds ~40 ms per keep-alive request)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"mock-{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"uvicorn did not start on {host}:{bound_port} within {timeout} s")
        time.sleep(0.005)
    shown = f"[{host}]" if ":" in host else host
    return LiveServer(f"http://{shown}:{bound_port}", app, server, thread)
