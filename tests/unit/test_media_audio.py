from __future__ import annotations

import array
import io
import itertools
import wave

import av
import pytest

from mock_server.media import render


def _wav(data: bytes) -> tuple[int, int, int, bytes]:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.readframes(wav.getnframes())


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(2.0, 2.0, id="2s"),
        pytest.param(0.5, 0.5, id="half-second"),
        pytest.param(12.25, 12.25, id="fractional"),
        pytest.param(0.0, 2.0, id="zero-means-default"),
        pytest.param(float("nan"), 2.0, id="nan-means-default"),
        pytest.param(3600.0, 60.0, id="capped"),
    ],
)
def test_wav_decodes_with_requested_length(seconds: float, expected: float) -> None:
    out = render("audio", "wav", seconds=seconds, seed=1)
    channels, width, rate, frames = _wav(out.data)
    assert (channels, width, rate) == (1, 2, 24000)
    assert len(frames) // 2 == round(expected * rate)
    assert (out.content_type, out.extension, out.fallback_from) == ("audio/wav", "wav", None)


def test_wav_is_an_audible_tone() -> None:
    samples = array.array("h", _wav(render("audio", None, seconds=1, seed=5).data)[3])
    assert max(samples) > 8000
    assert min(samples) < -8000
    assert samples[0] == 0  # faded in, no click


def test_pitch_follows_seed() -> None:
    def crossings(seed: int) -> int:
        samples = array.array("h", _wav(render("audio", "wav", seconds=1, seed=seed).data)[3])
        return sum(1 for a, b in itertools.pairwise(samples) if a < 0 <= b)

    assert crossings(0) != crossings(40)
    assert 200 <= min(crossings(0), crossings(40), crossings(81)) <= max(crossings(0), crossings(81)) <= 900


def test_pcm_is_raw_s16le_matching_the_wav_samples() -> None:
    out = render("audio", "pcm", seconds=1.5, seed=3)
    assert (out.content_type, out.extension, out.fallback_from) == ("application/octet-stream", "pcm", None)
    assert out.data == _wav(render("audio", "wav", seconds=1.5, seed=3).data)[3]
    assert len(out.data) == 1.5 * 24000 * 2


@pytest.mark.parametrize("seconds", [1.0, 3.0, 10.0])
def test_mp3_decodes_with_pyav(seconds: float) -> None:
    out = render("audio", "mp3", seconds=seconds, seed=2)
    assert (out.content_type, out.extension, out.fallback_from) == ("audio/mpeg", "mp3", None)
    with av.open(io.BytesIO(out.data), mode="r") as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        assert (container.format.name, stream.codec_context.name) == ("mp3", "mp3float")
        assert stream.sample_rate == 24000
    # LAME adds encoder delay and padding (well under a frame pair), so allow a tenth of a second.
    assert abs(samples / 24000 - seconds) < 0.1


@pytest.mark.parametrize("fmt", ["flac", "ogg_opus", "aac", "FLAC"])
def test_formats_without_honest_encoder_fall_back_to_wav(fmt: str) -> None:
    out = render("audio", fmt, seconds=1)
    assert (out.content_type, out.extension, out.fallback_from) == ("audio/wav", "wav", fmt)
    assert len(_wav(out.data)[3]) == 48000


@pytest.mark.parametrize("fmt", ["wav", "mp3", "pcm"])
def test_audio_is_deterministic_and_seeded(fmt: str) -> None:
    first = render("audio", fmt, seconds=1, seed=11)
    assert render("audio", fmt, seconds=1, seed=11) == first
    assert render("audio", fmt, seconds=1, seed=12).data != first.data
