from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

from mock_server.media import audio, mp4
from mock_server.media.geometry import Kind, dimensions, produced_size
from mock_server.media.rendered import Rendered

if TYPE_CHECKING:
    from mock_server.media import image

DEFAULT_SECONDS: Final = {"video": 4.0, "audio": 2.0}
MAX_SECONDS: Final = 60.0
MAX_FRAMES: Final = 16  # about one frame per second, fewer for long clips

_IMAGE_FORMATS: Final[dict[str, image.ImageFormat]] = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg", "webp": "webp"}
_IMAGE_TYPES: Final[dict[image.ImageFormat, tuple[str, str]]] = {
    "png": ("image/png", "png"),
    "jpeg": ("image/jpeg", "jpg"),
    "webp": ("image/webp", "webp"),
}
_WAV: Final = ("audio/wav", "wav")
_MP3: Final = ("audio/mpeg", "mp3")
# Raw s16le has no registered MIME type: audio/L16 (RFC 2586) means big-endian, so it would be a lie.
_PCM: Final = ("application/octet-stream", "pcm")


def _seconds(seconds: float, kind: Kind) -> float:
    if not math.isfinite(seconds) or seconds <= 0:
        return DEFAULT_SECONDS[kind]
    return min(seconds, MAX_SECONDS)


def _size(width: int, height: int, kind: Kind) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        width, height = dimensions(None, None, None, kind)
    return produced_size(width, height)


def _image(fmt: str | None, width: int, height: int, seed: int, text: str) -> Rendered:
    from mock_server.media import image  # Pillow: imported by the first file a client fetches, not at startup

    key = (fmt or "png").strip().lower()
    chosen = _IMAGE_FORMATS.get(key, "png")
    fallback = fmt if key not in _IMAGE_FORMATS else None
    data = image.encode(image.picture(*_size(width, height, "image"), seed, text), chosen)
    content_type, extension = _IMAGE_TYPES[chosen]
    return Rendered(data, content_type, extension, fallback)


def _video(fmt: str | None, width: int, height: int, seconds: float, seed: int, text: str) -> Rendered:
    from mock_server.media import image

    key = (fmt or "mp4").strip().lower()
    w, h = _size(width, height, "video")
    total_ms = max(1, round(_seconds(seconds, "video") * mp4.TIMESCALE))
    count = min(MAX_FRAMES, max(1, math.ceil(total_ms / mp4.TIMESCALE)))
    durations = [total_ms // count + (1 if i < total_ms % count else 0) for i in range(count)]
    frames = [image.encode(image.picture(w, h, seed, text, frame=i), "jpeg") for i in range(count)]
    return Rendered(mp4.mp4(w, h, frames, durations), "video/mp4", "mp4", None if key == "mp4" else fmt)


def _audio(fmt: str | None, seconds: float, seed: int) -> Rendered:
    key = (fmt or "wav").strip().lower()
    pcm = audio.tone(_seconds(seconds, "audio"), seed)
    if key == "pcm":
        return Rendered(pcm, *_PCM, None)
    if key == "mp3":
        return Rendered(audio.mp3(pcm), *_MP3, None)
    return Rendered(audio.wav(pcm), *_WAV, None if key == "wav" else fmt)


def render(
    kind: Kind,
    fmt: str | None,
    *,
    width: int = 0,
    height: int = 0,
    seconds: float = 0.0,
    seed: int = 0,
    text: str = "",
) -> Rendered:
    """Generate one deterministic output file; see the package docstring for formats and fallbacks."""
    if kind == "image":
        return _image(fmt, width, height, seed, text)
    if kind == "video":
        return _video(fmt, width, height, seconds, seed, text)
    if kind == "audio":
        return _audio(fmt, seconds, seed)
    raise ValueError(f"kind must be 'image', 'video' or 'audio', got {kind!r}")
