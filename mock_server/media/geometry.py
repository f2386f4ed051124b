from __future__ import annotations

import math
import re

from mock_server.lifecycle import Kind as Kind  # re-exported: the kinds the renderer takes

#: Longest side, in pixels, of every image or video frame the mock actually encodes.
MAX_SIDE = 256

# Image tiers by pixel area: NOTES.md §3.1 documents gpt-image-2's 1K/2K/4K as ~1 MP/~4 MP/~8.29 MP;
# 0.5K (Nano Banana 2) continues the series at a quarter of 1K.
_IMAGE_AREA = {"0.5k": 512 * 512, "1k": 1024 * 1024, "2k": 2048 * 2048, "4k": 3840 * 2160}
# Video tiers by the short side; kling-v3-video's standard/pro are its 720p/1080p modes.
_VIDEO_SHORT_SIDE = {
    "480p": 480,
    "720p": 720,
    "1080p": 1080,
    "4k": 2160,
    "standard": 720,
    "pro": 1080,
}
_DEFAULT_RATIO = {"image": (1, 1), "video": (16, 9)}
_DEFAULT_IMAGE_TIER = "1k"
_DEFAULT_VIDEO_TIER = "720p"
_MAX_NOMINAL_SIDE = 16384

_RATIO = re.compile(r"^\s*(\d{1,5})\s*:\s*(\d{1,5})\s*$")
_EXPLICIT = re.compile(r"^\s*(\d{1,5})\s*[xX*\u00d7]\s*(\d{1,5})\s*$")


def _ratio(text: str | None) -> tuple[int, int] | None:
    match = _RATIO.match(text or "")
    if match is None:
        return None
    a, b = int(match[1]), int(match[2])
    if a == 0 or b == 0:
        return None
    g = math.gcd(a, b)
    return a // g, b // g


def _explicit(text: str | None) -> tuple[int, int] | None:
    match = _EXPLICIT.match(text or "")
    if match is None:
        return None
    w, h = int(match[1]), int(match[2])
    if w == 0 or h == 0:
        return None
    return min(w, _MAX_NOMINAL_SIDE), min(h, _MAX_NOMINAL_SIDE)


def dimensions(aspect_ratio: str | None, size: str | None, resolution: str | None, kind: Kind) -> tuple[int, int]:
    """Nominal pixel size (width, height) the real API would produce for these request fields.

    ``size`` (explicit ``WxH`` or a ratio) wins over ``aspect_ratio``; ``auto``, a missing or an unparsable
    value means the default ratio (1:1 for images, 16:9 for video). Audio has no size: ``(0, 0)``.
    """
    if kind == "audio":
        return 0, 0
    explicit = _explicit(size)
    if explicit is not None:
        return explicit
    a, b = _ratio(size) or _ratio(aspect_ratio) or _DEFAULT_RATIO[kind]
    tier = (resolution or "").strip().lower()
    if kind == "video":
        short = _VIDEO_SHORT_SIDE.get(tier, _VIDEO_SHORT_SIDE[_DEFAULT_VIDEO_TIER])
        if a >= b:
            return _clamp(round(short * a / b)), short
        return short, _clamp(round(short * b / a))
    area = _IMAGE_AREA.get(tier, _IMAGE_AREA[_DEFAULT_IMAGE_TIER])
    # Largest whole multiple of the reduced ratio near the target area keeps the ratio exact.
    k = max(1, round(math.sqrt(area / (a * b))))
    return _clamp(k * a), _clamp(k * b)


def _clamp(side: int) -> int:
    return max(1, min(side, _MAX_NOMINAL_SIDE))


def produced_size(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """Size of the file actually encoded for a nominal ``width`` x ``height``: same ratio, longest side ≤ max_side."""
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive, got {width}x{height}")
    if max(width, height) <= max_side:
        return width, height
    g = math.gcd(width, height)
    a, b = width // g, height // g
    k = max_side // max(a, b)
    if k * max(a, b) * 4 >= max_side * 3:  # an exact multiple of the ratio that is not much smaller than the cap
        return k * a, k * b
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))
