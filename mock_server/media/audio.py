from __future__ import annotations

import array
import io
import math
import sys
import wave

import lameenc  # a required dependency (LAME in a small wheel, 1 ms to import): every MP3 is a real one

SAMPLE_RATE = 24000  # Hz, what TTS services commonly return; 16-bit mono keeps a second at 48 kB
_AMPLITUDE = 0.3 * 32767
_FADE = SAMPLE_RATE // 100  # 10 ms ramps so the tone starts and stops without a click
_MP3_KBPS = 32


def tone(seconds: float, seed: int) -> bytes:
    """Signed 16-bit little-endian mono PCM: a sine whose pitch (about 220-880 Hz) comes from ``seed``."""
    count = max(1, round(seconds * SAMPLE_RATE))
    # A whole number of samples per cycle lets one cycle be repeated by bytes multiplication (fast).
    period = 28 + seed % 82
    cycle = array.array("h", (round(_AMPLITUDE * math.sin(2 * math.pi * i / period)) for i in range(period)))
    samples = array.array("h", cycle.tobytes() * (count // period + 1))
    del samples[count:]
    ramp = min(_FADE, count // 2)
    for i in range(ramp):
        samples[i] = samples[i] * i // ramp
        samples[count - 1 - i] = samples[count - 1 - i] * i // ramp
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def wav(pcm: bytes) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm)
    return buffer.getvalue()


def mp3(pcm: bytes) -> bytes:
    """MPEG-2 Layer III (CBR) of ``pcm``."""
    encoder = lameenc.Encoder()
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_out_sample_rate(SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_bit_rate(_MP3_KBPS)
    encoder.set_quality(7)  # fastest sensible setting; the content is a test tone
    return bytes(encoder.encode(pcm)) + bytes(encoder.flush())
