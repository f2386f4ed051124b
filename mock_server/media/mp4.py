"""A minimal MP4 (ISO/IEC 14496-12) writer for one Motion-JPEG video track.

Written by hand because the mock has no ffmpeg binary at run time and a real encoder library (PyAV ships all of
FFmpeg) is far too heavy for serving tiny placeholder clips. Each sample is a baseline JPEG from Pillow, declared in
an ``mp4v`` sample entry whose ``esds`` gives objectTypeIndication 0x6C (ISO 10918-1, JPEG), which is the MP4
registration authority's code for JPEG, so a standard demuxer (FFmpeg's ``mov``) hands the samples to its MJPEG
decoder. Layout: ftyp, moov (before mdat, "fast start"), mdat with all samples in one chunk.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

TIMESCALE = 1000  # milliseconds: durations are whole milliseconds
_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
_LANGUAGE_UND = ((ord("u") - 0x60) << 10) | ((ord("n") - 0x60) << 5) | (ord("d") - 0x60)
_OBJECT_TYPE_JPEG = 0x6C
_STREAM_TYPE_VISUAL = 0x04


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def _descriptor(tag: int, body: bytes) -> bytes:
    # MPEG-4 descriptors (ISO/IEC 14496-1) use a 7-bit-per-byte size; the 4-byte form is always accepted.
    n = len(body)
    size = bytes([0x80 | (n >> 21) & 0x7F, 0x80 | (n >> 14) & 0x7F, 0x80 | (n >> 7) & 0x7F, n & 0x7F])
    return bytes([tag]) + size + body


def _esds(max_sample: int, bitrate: int) -> bytes:
    decoder_config = struct.pack(
        ">BBBHII",
        _OBJECT_TYPE_JPEG,
        (_STREAM_TYPE_VISUAL << 2) | 1,  # upStream 0, reserved 1
        max_sample >> 16,
        max_sample & 0xFFFF,
        bitrate,
        bitrate,
    )
    sl_config = _descriptor(0x06, b"\x02")  # predefined: MP4 file
    es = _descriptor(0x03, struct.pack(">HB", 1, 0) + _descriptor(0x04, decoder_config) + sl_config)
    return full_box(b"esds", 0, 0, es)


def _sample_entry(width: int, height: int, max_sample: int, bitrate: int) -> bytes:
    name = b"Motion JPEG"
    compressor = bytes([len(name)]) + name.ljust(31, b"\0")
    visual = struct.pack(
        ">6xH2x2x12xHHIIIH32sHh",
        1,  # data_reference_index
        width,
        height,
        0x00480000,  # 72 dpi
        0x00480000,
        0,
        1,  # frame_count
        compressor,
        0x0018,  # depth: colour, no alpha
        -1,
    )
    return box(b"mp4v", visual, _esds(max_sample, bitrate))


def _stts(durations: Sequence[int]) -> bytes:
    runs: list[tuple[int, int]] = []
    for d in durations:
        if runs and runs[-1][1] == d:
            runs[-1] = (runs[-1][0] + 1, d)
        else:
            runs.append((1, d))
    return full_box(b"stts", 0, 0, struct.pack(">I", len(runs)), *(struct.pack(">II", n, d) for n, d in runs))


def _moov(width: int, height: int, samples: Sequence[bytes], durations: Sequence[int], mdat_offset: int) -> bytes:
    total = sum(durations)
    sizes = [len(s) for s in samples]
    seconds = max(total / TIMESCALE, 0.001)
    bitrate = int(sum(sizes) * 8 / seconds)
    mvhd = full_box(
        b"mvhd", 0, 0, struct.pack(">IIIIIH10x", 0, 0, TIMESCALE, total, 0x00010000, 0x0100), _MATRIX, bytes(24),
        struct.pack(">I", 2),  # next_track_ID
    )  # fmt: skip
    tkhd = full_box(
        b"tkhd", 0, 0x3, struct.pack(">IIIIIIIhhH2x", 0, 0, 1, 0, total, 0, 0, 0, 0, 0), _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )  # fmt: skip
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, TIMESCALE, total, _LANGUAGE_UND, 0))
    hdlr = full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, b"vide"), b"VideoHandler\0")
    vmhd = full_box(b"vmhd", 0, 1, bytes(8))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), _sample_entry(width, height, max(sizes), bitrate)),
        _stts(durations),
        full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, len(samples), 1)),
        full_box(b"stsz", 0, 0, struct.pack(">II", 0, len(samples)), struct.pack(f">{len(sizes)}I", *sizes)),
        full_box(b"stco", 0, 0, struct.pack(">II", 1, mdat_offset)),
    )
    minf = box(b"minf", vmhd, dinf, stbl)
    trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))
    return box(b"moov", mvhd, trak)


def mp4(width: int, height: int, samples: Sequence[bytes], durations: Sequence[int]) -> bytes:
    """An MP4 with one MJPEG track: ``samples[i]`` is a JPEG shown for ``durations[i]`` milliseconds."""
    if not samples or len(samples) != len(durations):
        raise ValueError(f"need one duration per sample, got {len(samples)} samples, {len(durations)} durations")
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"mp41")
    # moov's size does not depend on the offset it stores, so measure it once with a placeholder.
    moov_size = len(_moov(width, height, samples, durations, 0))
    moov = _moov(width, height, samples, durations, len(ftyp) + moov_size + 8)
    return ftyp + moov + box(b"mdat", *samples)
