from __future__ import annotations

import io

import pytest
from PIL import Image

from mock_server.media import render


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()  # decode every pixel, not just the header
    return img


@pytest.mark.parametrize(
    ("fmt", "pil_format", "content_type", "extension"),
    [
        pytest.param("png", "PNG", "image/png", "png", id="png"),
        pytest.param(None, "PNG", "image/png", "png", id="default-png"),
        pytest.param("jpeg", "JPEG", "image/jpeg", "jpg", id="jpeg"),
        pytest.param("JPG", "JPEG", "image/jpeg", "jpg", id="jpg-alias"),
        pytest.param("webp", "WEBP", "image/webp", "webp", id="webp"),
    ],
)
def test_image_formats_decode(fmt: str | None, pil_format: str, content_type: str, extension: str) -> None:
    out = render("image", fmt, width=1360, height=765, seed=3, text="A lion")
    img = _open(out.data)
    assert (img.format, img.size, img.mode) == (pil_format, (256, 144), "RGB")
    assert (out.content_type, out.extension, out.fallback_from) == (content_type, extension, None)


@pytest.mark.parametrize("fmt", ["gif", "bmp", "tiff", "heic"])
def test_unknown_image_format_falls_back_to_png(fmt: str) -> None:
    out = render("image", fmt, width=64, height=32)
    assert _open(out.data).format == "PNG"
    assert (out.content_type, out.extension, out.fallback_from) == ("image/png", "png", fmt)


@pytest.mark.parametrize(("width", "height"), [(765, 1360), (4096, 4096), (100, 60), (1000, 999), (1561, 669)])
def test_image_keeps_aspect_ratio(width: int, height: int) -> None:
    w, h = _open(render("image", "png", width=width, height=height).data).size
    assert max(w, h) <= 256
    assert abs(w / h - width / height) <= width / height / max(w, h) + 1e-9


def test_zero_size_means_default_square() -> None:
    assert _open(render("image", "png").data).size == (256, 256)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_image_is_deterministic_and_seeded(fmt: str) -> None:
    first = render("image", fmt, width=512, height=512, seed=7, text="same")
    assert render("image", fmt, width=512, height=512, seed=7, text="same") == first
    assert render("image", fmt, width=512, height=512, seed=8, text="same").data != first.data


@pytest.mark.parametrize("text", ["", "画一只猫 🐱", "x" * 5000, "line\nbreaks\tand tabs"])
def test_any_text_renders(text: str) -> None:
    assert _open(render("image", "png", width=300, height=200, text=text).data).size == (255, 170)
