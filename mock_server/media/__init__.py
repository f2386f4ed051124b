"""Real, tiny, deterministic output files for the mock: pure functions, no I/O, no web framework.

``render(kind, fmt, width=, height=, seconds=, seed=, text=)`` returns a ``Rendered`` (bytes, content type,
extension, ``fallback_from``). Same arguments, same bytes; different seeds give different files.

Formats (``fmt`` is case-insensitive; ``None`` or ``""`` picks the first one listed):

=====  =========================  ==============================  ================================================
kind   produced honestly          content type                    fallback (``fallback_from`` = the requested fmt)
=====  =========================  ==============================  ================================================
image  png, jpeg (alias jpg),     image/png, image/jpeg,          anything else → PNG
       webp (all by Pillow)       image/webp
video  mp4 (Motion-JPEG track,    video/mp4                       anything else → MP4
       container written here)
audio  wav, pcm (raw s16le),      audio/wav,                      flac, ogg_opus and anything else → WAV;
       mp3 (by lameenc)           application/octet-stream,
                                  audio/mpeg
=====  =========================  ==============================  ================================================

Sizes: ``dimensions(aspect_ratio, size, resolution, kind)`` gives the *nominal* size the real API would return.
The file itself is encoded at ``produced_size(w, h)``: the same ratio, exact where integers allow, with the longest
side capped at ``MAX_SIDE`` = 256 px. The cap keeps every file a few kB and every render a few milliseconds, which
is what a mock serving many tasks per second needs; a decoder still sees the requested aspect ratio.
Width or height 0 means the kind's default (1024x1024 image, 1280x720 video).

Durations: ``seconds`` ≤ 0 means the default (4 s video, 2 s audio); longer than 60 s is capped at 60 s. Video is
about one frame per second (at most 16 frames) and its MP4 duration equals ``seconds`` to the millisecond. Audio is
a 24 kHz 16-bit mono sine whose pitch comes from ``seed`` (``text`` only appears in pictures). Raw PCM is served as
application/octet-stream because ``audio/L16`` (RFC 2586) denotes big-endian samples.

Why the fallbacks: FLAC and Ogg Opus need an encoder library (PyAV bundles FFmpeg, too heavy for the mock at run
time); serving WAV with ``fallback_from`` set is honest about it. MP3 uses lameenc, a small wheel that bundles LAME.

Cost, measured on the 2-core dev machine (2026-11-26, one render, text drawn): PNG 2.7 ms, JPEG 1.1 ms, WebP 2.1 ms;
MP4 3.3 ms for 4 s and 12.6 ms for 15 s; WAV or PCM of 10 s 0.3 ms; MP3 6.4 ms for 4 s and 65 ms for 60 s.
"""

from __future__ import annotations

from mock_server.media.geometry import MAX_SIDE, Kind, dimensions, produced_size
from mock_server.media.rendered import Rendered
from mock_server.media.renderer import render

__all__ = ["MAX_SIDE", "Kind", "Rendered", "dimensions", "produced_size", "render"]
