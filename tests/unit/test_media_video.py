from __future__ import annotations

import io
import struct
from collections.abc import Iterator

import av
import pytest
from PIL import Image

from mock_server.media import render

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"dinf", b"stbl"}


def _boxes(data: bytes, start: int = 0, end: int | None = None, path: str = "") -> Iterator[tuple[str, int, int]]:
    """Walk ISO BMFF boxes: yields (path, payload start, payload end) and checks every size adds up."""
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        assert 8 <= size <= end - pos, f"box {kind!r} at {pos} has size {size}"
        here = f"{path}/{kind.decode()}"
        yield here, pos + 8, pos + size
        if kind in _CONTAINERS:
            yield from _boxes(data, pos + 8, pos + size, here)
        elif kind == b"stsd":
            yield from _boxes(data, pos + 16, pos + size, here)
        pos += size
    assert pos == end


def _tree(data: bytes) -> dict[str, bytes]:
    return {path: data[a:b] for path, a, b in _boxes(data)}


def test_mp4_has_the_iso_bmff_boxes() -> None:
    tree = _tree(render("video", "mp4", width=1280, height=720, seconds=4, seed=1).data)
    stbl = "/moov/trak/mdia/minf/stbl"
    expected = {"/ftyp", "/moov", "/moov/mvhd", "/moov/trak/tkhd", "/moov/trak/mdia/mdhd", "/moov/trak/mdia/hdlr",
                "/moov/trak/mdia/minf/vmhd", "/moov/trak/mdia/minf/dinf/dref", f"{stbl}/stsd/mp4v", f"{stbl}/stts",
                f"{stbl}/stsc", f"{stbl}/stsz", f"{stbl}/stco", "/mdat"}  # fmt: skip
    assert expected <= tree.keys()
    assert next(iter(tree)) == "/ftyp"
    assert tree["/moov/trak/mdia/hdlr"][8:12] == b"vide"
    assert b"\x04\x80\x80\x80\x0d\x6c" in tree[f"{stbl}/stsd/mp4v"]  # DecoderConfigDescriptor: JPEG


@pytest.mark.parametrize("seconds", [4.0, 1.0, 0.25, 4.5, 15.0])
def test_mp4_durations_equal_requested_seconds(seconds: float) -> None:
    tree = _tree(render("video", None, seconds=seconds).data)
    timescale, duration = struct.unpack(">II", tree["/moov/mvhd"][12:20])
    media_timescale, media_duration = struct.unpack(">II", tree["/moov/trak/mdia/mdhd"][12:20])
    assert duration / timescale == media_duration / media_timescale == seconds


def test_mp4_sample_table_points_at_jpegs_in_mdat() -> None:
    data = render("video", "mp4", seconds=3, seed=9).data
    tree = _tree(data)
    stbl = "/moov/trak/mdia/minf/stbl"
    count = struct.unpack(">I", tree[f"{stbl}/stsz"][8:12])[0]
    sizes = struct.unpack(f">{count}I", tree[f"{stbl}/stsz"][12:])
    (offset,) = struct.unpack(">I", tree[f"{stbl}/stco"][8:12])
    assert sum(sizes) == len(tree["/mdat"])
    assert count == 3
    for size in sizes:
        frame = Image.open(io.BytesIO(data[offset : offset + size]))
        assert (frame.format, frame.size) == ("JPEG", (256, 144))
        offset += size


@pytest.mark.parametrize(
    ("width", "height", "seconds", "frames"),
    [
        pytest.param(1280, 720, 4.0, 4, id="720p-4s"),
        pytest.param(1080, 1920, 8.0, 8, id="portrait-8s"),
        pytest.param(720, 720, 1.5, 2, id="square-1.5s"),
        pytest.param(1680, 720, 60.0, 16, id="long-capped-frames"),
    ],
)
def test_pyav_decodes_mp4(width: int, height: int, seconds: float, frames: int) -> None:
    out = render("video", "mp4", width=width, height=height, seconds=seconds, seed=2)
    with av.open(io.BytesIO(out.data), mode="r") as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
        assert stream.codec_context.name == "mjpeg"
        assert container.duration == round(seconds * av.time_base)
    assert len(decoded) == frames
    w, h = decoded[0].width, decoded[0].height
    assert max(w, h) <= 256
    assert abs(w / h - width / height) < 0.01
    starts = [frame.pts or 0 for frame in decoded]
    assert starts == sorted(set(starts))
    assert starts[0] == 0
    assert starts[-1] < seconds * 1000 <= starts[-1] + 1000 * seconds / frames + 1
    assert len(set(bytes(decoded[0].planes[0]))) > 2  # real pixels, not a blank frame


def test_video_frames_differ_so_it_moves() -> None:
    with av.open(io.BytesIO(render("video", "mp4", seconds=3).data), mode="r") as container:
        pixels = [bytes(frame.planes[0]) for frame in container.decode(video=0)]
    assert len(set(pixels)) == 3


def test_video_is_deterministic_and_seeded() -> None:
    first = render("video", "mp4", seconds=2, seed=4, text="lion")
    assert render("video", "mp4", seconds=2, seed=4, text="lion") == first
    assert render("video", "mp4", seconds=2, seed=5, text="lion").data != first.data


@pytest.mark.parametrize("fmt", ["webm", "mov", "gif"])
def test_other_video_formats_fall_back_to_mp4(fmt: str) -> None:
    out = render("video", fmt, seconds=1)
    assert (out.content_type, out.extension, out.fallback_from) == ("video/mp4", "mp4", fmt)
    assert _tree(out.data)["/ftyp"][:4] == b"isom"


def test_mp4_content_type() -> None:
    out = render("video", "MP4")
    assert (out.content_type, out.extension, out.fallback_from) == ("video/mp4", "mp4", None)
