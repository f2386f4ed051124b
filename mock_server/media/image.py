from __future__ import annotations

import functools
import hashlib
import io
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

ImageFormat = Literal["png", "jpeg", "webp"]

_MAX_TEXT = 40


def _palette(seed: int) -> tuple[tuple[int, int, int], ...]:
    # A hash, not the random module: stable across Python versions and free of global state.
    digest = hashlib.blake2b(str(seed).encode(), digest_size=12).digest()
    return tuple((digest[i], digest[i + 1], digest[i + 2]) for i in range(0, 12, 3))


@functools.cache
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default()


def _printable(text: str) -> str:
    # The bundled font covers ASCII; other characters would render as boxes (or raise with the bitmap font).
    line = " ".join(text.split())[:_MAX_TEXT]
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in line)


def picture(width: int, height: int, seed: int, text: str = "", frame: int = 0) -> Image.Image:
    """Deterministic RGB picture: a seed-coloured gradient, a block that moves with ``frame``, the text."""
    first, second, block, ink = _palette(seed)
    ramp = Image.linear_gradient("L") if seed % 3 != 1 else Image.radial_gradient("L")
    if seed % 3 == 2:
        ramp = ramp.transpose(Image.Transpose.ROTATE_90)
    mask = ramp.resize((width, height), Image.Resampling.NEAREST)
    img = Image.composite(Image.new("RGB", (width, height), first), Image.new("RGB", (width, height), second), mask)
    draw = ImageDraw.Draw(img)
    side = max(1, min(width, height) // 3)
    travel = max(1, width - side)
    x = (seed * 7 + frame * max(1, travel // 4)) % travel
    y = (height - side) // 2
    draw.rectangle((x, y, x + side - 1, y + side - 1), fill=block)
    label = _printable(text)
    if label:
        draw.text((3, 2), label, fill=ink, font=_font())
    return img


def encode(img: Image.Image, fmt: ImageFormat) -> bytes:
    """Encode ``img`` with Pillow; same image and format give the same bytes."""
    buffer = io.BytesIO()
    # Fastest encoder settings: the pictures are simple and tiny, so better compression saves almost nothing.
    if fmt == "png":
        img.save(buffer, "PNG", compress_level=1)
    elif fmt == "webp":
        img.save(buffer, "WEBP", quality=85, method=0)
    else:
        img.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
