"""Run a small ASGI app (the budget gate, the webhook receiver) on 127.0.0.1:0 in a thread."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn

__all__ = ["Served", "serve_in_thread"]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the thread is not the main thread
        pass


@dataclass(slots=True)
class Served:
    base_url: str
    server: _Server
    thread: threading.Thread

    def stop(self, *, force: bool = False) -> None:
        """Stop serving; `force` also drops requests still in flight (a receiver told to answer late)."""
        self.server.should_exit = True
        self.server.force_exit = force
        self.thread.join(timeout=10)


def serve_in_thread(
    app: Any, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0, lifespan: Literal["on", "off"] = "on"
) -> Served:
    """Serve `app` and return once it accepts connections; RuntimeError when it has not started within `timeout` s.

    `lifespan="off"` for an app without startup work: a forced stop then has no lifespan task to cancel (uvicorn
    logs a cancelled lifespan as an error traceback).
    """
    config = uvicorn.Config(app, host=host, port=port, log_level="error", access_log=False, lifespan=lifespan)
    server = _Server(config)
    thread = threading.Thread(target=server.run, name="contracts-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"could not serve on {host}:{port}: uvicorn stopped while starting (see its log above)")
        if time.monotonic() > deadline:
            server.should_exit = True  # it leaves as soon as its startup returns, if it ever does
            raise RuntimeError(
                f"the server on {host}:{port} did not start within {timeout} s: its lifespan startup never completed"
            )
        thread.join(0.01)
    bound = server.servers[0].sockets[0].getsockname()
    return Served(f"http://{host}:{bound[1]}", server, thread)
