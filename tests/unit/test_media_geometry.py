from __future__ import annotations

import pytest

from mock_server.media import MAX_SIDE, dimensions, produced_size


@pytest.mark.parametrize(
    ("aspect_ratio", "size", "resolution", "expected"),
    [
        pytest.param("1:1", None, "1K", (1024, 1024), id="square-1k"),
        pytest.param("1:1", None, "2K", (2048, 2048), id="square-2k"),
        pytest.param("1:1", None, "0.5K", (512, 512), id="square-half-k"),
        pytest.param("16:9", None, "1K", (1360, 765), id="wide-1k"),
        pytest.param(None, "16:9", "4K", (3840, 2160), id="gpt-image-2-size-ratio-4k"),
        pytest.param(None, "1024x1024", "4K", (1024, 1024), id="explicit-size-ignores-tier"),
        pytest.param("9:16", "1536X1024", None, (1536, 1024), id="explicit-size-wins-over-ratio"),
        pytest.param("9:16", "auto", None, (765, 1360), id="size-auto-uses-aspect-ratio"),
        pytest.param("auto", None, None, (1024, 1024), id="auto-is-square"),
        pytest.param(None, None, None, (1024, 1024), id="defaults"),
        pytest.param("2:4", None, "1k", (724, 1448), id="ratio-reduced-tier-case-insensitive"),
        pytest.param("banana", "0x5", "8K", (1024, 1024), id="garbage-falls-back"),
    ],
)
def test_image_dimensions(
    aspect_ratio: str | None, size: str | None, resolution: str | None, expected: tuple[int, int]
) -> None:
    assert dimensions(aspect_ratio, size, resolution, "image") == expected


@pytest.mark.parametrize(
    ("aspect_ratio", "resolution", "expected"),
    [
        pytest.param("16:9", "720P", (1280, 720), id="720p"),
        pytest.param("16:9", "1080p", (1920, 1080), id="1080p-lowercase"),
        pytest.param("16:9", "4K", (3840, 2160), id="4k"),
        pytest.param("9:16", "480P", (480, 853), id="portrait-480p"),
        pytest.param("1:1", "pro", (1080, 1080), id="kling-pro"),
        pytest.param("21:9", "standard", (1680, 720), id="kling-standard-cinema"),
        pytest.param(None, None, (1280, 720), id="defaults"),
    ],
)
def test_video_dimensions(aspect_ratio: str | None, resolution: str | None, expected: tuple[int, int]) -> None:
    assert dimensions(aspect_ratio, None, resolution, "video") == expected


def test_audio_has_no_dimensions() -> None:
    assert dimensions("16:9", "1024x1024", "1K", "audio") == (0, 0)


@pytest.mark.parametrize(
    ("nominal", "expected"),
    [
        pytest.param((1360, 765), (256, 144), id="16:9"),
        pytest.param((3840, 2160), (256, 144), id="4k"),
        pytest.param((765, 1360), (144, 256), id="9:16"),
        pytest.param((1024, 1024), (256, 256), id="square"),
        pytest.param((1680, 720), (252, 108), id="21:9-exact"),
        pytest.param((1000, 999), (256, 256), id="unreducible-rounds"),
        pytest.param((200, 100), (200, 100), id="small-kept"),
        pytest.param((16384, 1), (256, 1), id="extreme"),
    ],
)
def test_produced_size_keeps_ratio_under_cap(nominal: tuple[int, int], expected: tuple[int, int]) -> None:
    produced = produced_size(*nominal)
    assert produced == expected
    assert max(produced) <= MAX_SIDE


def test_produced_size_rejects_empty() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        produced_size(0, 10)
