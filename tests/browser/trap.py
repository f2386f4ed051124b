"""A loopback listener the browsers use as their HTTP(S) proxy: it stands in for the rest of the network.

It keeps the first line of every connection (`GET http://host/ HTTP/1.1`, `CONNECT host:443 HTTP/1.1`) and
closes it unanswered, so a request a browser makes on its own (telemetry, updates, remote settings) fails on
the machine and leaves a line a test can assert on.
"""

from __future__ import annotations

import socketserver
import threading


class _Handler(socketserver.StreamRequestHandler):
    timeout = 5.0

    def handle(self) -> None:
        try:
            line = self.rfile.readline(4096).decode("latin-1").strip() or "(nothing sent)"
        except (TimeoutError, ConnectionError):
            line = "(nothing sent)"
        self.server.lines.append(line)  # type: ignore[attr-defined]


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    lines: list[str]


class ProxyTrap:
    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.lines = []
        self._thread = threading.Thread(target=self._server.serve_forever, name="proxy-trap", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def lines(self) -> list[str]:
        """The first line of each connection so far, in arrival order."""
        return list(self._server.lines)

    def __enter__(self) -> ProxyTrap:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
