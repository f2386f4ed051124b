"""Replays a cassette's requests on our mock, at the recorded times on the mock's clock, for `drift`.

Each recorded request is sent again: creates with their recorded body, polls with the recorded task id mapped
to the mock's, result files through the mock's own URL for the same task and output index. Before each one the
mock's clock is advanced to the recorded `at`, so a poll recorded 15 s after its create is a poll 15 s after the
mock's create. The mock is ours (it answers `/_mock/health`): started here as a subprocess through its public
CLI (`python -m mock_server serve --port 0`), never imported, or given with `--against`.
"""

from __future__ import annotations

import re
import selectors
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx2

from contracts.drift import Pair
from contracts.observer import parse_json
from contracts.target import MOCK_CLOCK_ADVANCE, TargetUnreachable, probe
from openapi.cassette import Cassette, Exchange as Recorded, FileRecord, Redactor

__all__ = ["REPLAY_KEY", "MockNotStarted", "replay", "started_mock"]

REPLAY_KEY = "sk-drift"  # the recorded key is redacted; the mock takes any key as its own tenant
_BANNER = re.compile(r"listening on (http://\S+)")


class MockNotStarted(Exception):
    """The mock subprocess did not come up; the message says what it printed."""


@contextmanager
def started_mock(extra_args: Sequence[str] = (), *, timeout: float = 60.0) -> Iterator[str]:
    """Run `python -m mock_server serve --port 0` and yield its base URL; the process is ended on exit."""
    command = [sys.executable, "-m", "mock_server", "serve", "--host", "127.0.0.1", "--port", "0", *extra_args]
    # One pipe for both streams: the banner's first line comes once the socket listens; an error comes instead.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:  # never hang on a mock that prints nothing
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout)
        if not ready:
            process.kill()
            raise MockNotStarted(f"`{' '.join(command[1:])}` printed nothing within {timeout:g} s")
        line = process.stdout.readline()
        found = _BANNER.search(line)
        if not found:
            rest, _ = process.communicate(timeout=timeout)
            raise MockNotStarted(f"`{' '.join(command[1:])}` did not start: {(line + rest).strip()[-500:]}")
        yield found.group(1)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def replay(cassette: Cassette, base_url: str, *, timeout: float = 30.0) -> list[Pair]:
    """Each recorded exchange with the mock's answer to the same request (None when it is not replayed: the
    `/_mock` surface; a result file the mock's task does not have is answered with status 0)."""
    target = probe(base_url, timeout=min(timeout, 10.0))
    if not target.is_mock:
        raise TargetUnreachable(f"{base_url} is not our mock (no /_mock/health): drift replays on the mock only")
    redactor = Redactor()
    pairs: list[Pair] = []
    ids: dict[str, str] = {}
    last_body: dict[str, Any] = {}
    moved = 0.0
    headers = {"Authorization": f"Bearer {REPLAY_KEY}"}
    with httpx2.Client(base_url=base_url, headers=headers, timeout=timeout) as client:
        for ex in cassette.exchanges:
            if ex.at > moved:
                client.post(MOCK_CLOCK_ADVANCE, json={"seconds": ex.at - moved}).raise_for_status()
                moved = ex.at
            mock = _send(client, ex, ids, last_body, redactor)
            pairs.append((ex, mock))
            if mock is not None and ex.task and mock.task:
                ids.setdefault(ex.task, mock.task)
                if ex.operation == "getPrediction":
                    last_body[ex.task] = mock.response_body
    return pairs


def _send(
    client: httpx2.Client, ex: Recorded, ids: dict[str, str], last_body: dict[str, Any], redactor: Redactor
) -> Recorded | None:
    if ex.path.startswith("/_mock"):
        return None  # the mock's own control surface (a proxy in front of a mock): not the API
    if ex.operation == "file":
        url = _mock_file_url(last_body.get(ex.task or ""), ex)
        if url is None:  # the mock's task has no such output: a difference (status 0 = no answer)
            return Recorded(ex.seq, ex.method, ex.path, 0, operation="file", name=ex.name, task=ex.task)
        response = client.get(url)
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        file = FileRecord(kind, len(response.content)) if response.status_code < 300 else None
        return _recorded(ex, response, None, redactor, file=file, task=ids.get(ex.task or ""))
    path = ex.path
    for real, mine in ids.items():
        path = path.replace(real, mine)
    body = ex.request_body if ex.method not in {"GET", "HEAD"} else None
    response = client.request(ex.method, path, params=ex.query or None, json=body)
    answer = parse_json(response.content)
    task = ids.get(ex.task or "")
    if ex.operation == "createPrediction" and isinstance(answer, dict) and isinstance(answer.get("data"), dict):
        created = answer["data"].get("task_id")
        task = created if isinstance(created, str) else None
    return _recorded(ex, response, answer if isinstance(answer, dict | list) else response.text, redactor, task=task)


def _recorded(
    ex: Recorded, response: httpx2.Response, body: Any, redactor: Redactor, *, task: str | None,
    file: FileRecord | None = None,
) -> Recorded:  # fmt: skip
    return Recorded(
        seq=ex.seq,
        method=ex.method,
        path=ex.path,
        status=response.status_code,
        response_headers=redactor.headers(response.headers.multi_items()),
        response_body=body,
        operation=ex.operation,
        name=ex.name,
        task=task,
        at=ex.at,
        elapsed=ex.elapsed,
        file=file,
    )


def _mock_file_url(body: Any, ex: Recorded) -> str | None:
    """The mock's URL of the same output index as the recorded file (`file <model> #<index>`)."""
    data = body.get("data") if isinstance(body, dict) else None
    output = data.get("output") if isinstance(data, dict) else None
    index = int(ex.name.rpartition("#")[2]) if ex.name.rpartition("#")[2].isdigit() else 0
    if not isinstance(output, list) or not 0 <= index < len(output) or not isinstance(output[index], dict):
        return None
    url = output[index].get(str(output[index].get("type")))
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
