from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from standin import API_KEY, Differences, StandinClock, create_standin

from contracts.record import RecordOptions, Timing, record
from mock_server.app import create_app
from mock_server.settings import Settings
from mock_server.testing import LiveServer, serve_in_thread

NO_DIFFERENCES = Differences()


@pytest.fixture
def mock_url() -> Iterator[str]:
    """Our mock on loopback with its default durations (its clock is advanced, never waited for)."""
    with serve_in_thread(create_app(Settings(seed=7))) as live:
        yield live.base_url


Recorder = Callable[..., Path]


@pytest.fixture
def record_standin(tmp_path: Path) -> Iterator[Recorder]:
    """Record the stand-in "real API" (with the given differences) into a cassette; returns its path."""
    started: list[LiveServer] = []

    def run(
        differences: Differences = NO_DIFFERENCES,
        *,
        models: tuple[str, ...] = ("gpt-image-2", "sora-2"),
        with_files: bool = False,
        name: str = "real.cassette",
    ) -> Path:
        clock = StandinClock()
        live = serve_in_thread(create_standin(clock, differences))
        started.append(live)
        out = tmp_path / name
        options = RecordOptions(live.base_url, API_KEY, out, budget=2, models=models, with_files=with_files)
        record(options, progress=lambda _: None, timing=Timing(now=clock.now, sleep=clock.advance))
        return out

    yield run
    for live in started:
        live.stop()
