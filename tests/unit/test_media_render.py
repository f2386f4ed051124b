from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import mock_server.media
from mock_server.media import Rendered, render


def test_public_surface() -> None:
    assert sorted(mock_server.media.__all__) == [
        "Kind", "MAX_SIDE", "Rendered", "dimensions", "produced_size", "render"
    ]  # fmt: skip


def test_rendered_is_frozen() -> None:
    out = render("image", "png", width=8, height=8)
    assert isinstance(out, Rendered)
    with pytest.raises(AttributeError):
        out.data = b""  # type: ignore[misc]


def test_unknown_kind_is_rejected() -> None:
    bad: Any = "text"
    with pytest.raises(ValueError, match="kind must be"):
        render(bad, None)


def test_media_is_pure() -> None:
    code = "import sys, mock_server.media; print(sorted({'starlette','uvicorn','httpx2','anyio'} & set(sys.modules)))"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("kind", "fmt", "kwargs"),
    [
        pytest.param("image", "png", {"width": 3840, "height": 2160}, id="png-4k"),
        pytest.param("image", "jpeg", {"width": 2048, "height": 2048}, id="jpeg-2k"),
        pytest.param("image", "webp", {"width": 2048, "height": 2048}, id="webp-2k"),
        pytest.param("video", "mp4", {"width": 1920, "height": 1080, "seconds": 15}, id="mp4-15s"),
        pytest.param("audio", "wav", {"seconds": 10}, id="wav-10s"),
        pytest.param("audio", "mp3", {"seconds": 10}, id="mp3-10s"),
    ],
)
def test_files_stay_small_for_large_requests(kind: Any, fmt: str, kwargs: dict[str, Any]) -> None:
    # The size cap is what keeps render in the milliseconds (timings are in the package docstring, not asserted).
    assert len(render(kind, fmt, seed=1, **kwargs).data) < 500_000


@pytest.mark.parametrize("seed", [-1, 0, 2**63, -(2**70)])
@pytest.mark.parametrize(("kind", "fmt"), [("image", "png"), ("video", "mp4"), ("audio", "wav")])
def test_any_seed_renders(kind: Any, fmt: str, seed: int) -> None:
    out = render(kind, fmt, width=64, height=48, seconds=1, seed=seed)
    assert out.fallback_from is None
    assert out.data
