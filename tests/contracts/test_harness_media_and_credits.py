"""The pure halves of two rules, on real files and canned readings: result_media (a real decoder says whether a
file is the media its item claims) and credits_billed (total_usage moves by what the tasks were billed)."""

from __future__ import annotations

import io
import wave
from typing import Any

import pytest
from PIL import Image

from contracts.credits import check_billing
from contracts.findings import Kind
from contracts.media import container, media_error
from contracts.results import download, requested_format, requested_images, requested_seconds
from contracts.serving import serve_in_thread
from mock_server.media import audio


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(b"\x00\x01" * 800)
    return out.getvalue()


def test_real_files_of_the_claimed_kind_pass() -> None:
    mp3 = audio.mp3(audio.tone(0.2, seed=1))

    assert media_error("image", _png()) is None
    assert media_error("audio", _wav()) is None
    if mp3 is not None:  # lameenc present
        assert media_error("audio", mp3) is None


@pytest.mark.parametrize(
    ("kind", "content", "says"),
    [
        pytest.param("image", _wav(), "Pillow cannot decode it", id="wav-claimed-image"),
        pytest.param("audio", _png(), "no audio container", id="png-claimed-audio"),
        pytest.param("video", _wav(), "not an MP4 container", id="wav-claimed-video"),
        pytest.param("video", b"", "empty", id="empty"),
        pytest.param("image", _png()[:40], "Pillow cannot decode it", id="truncated-png"),
    ],
)
def test_a_file_of_another_kind_is_named(kind: str, content: bytes, says: str) -> None:
    assert says in (media_error(kind, content) or "")


def _credits(usage: float) -> dict[str, object]:
    return {"data": {"total_credits": 100.0, "total_usage": usage, "balance": 100.0 - usage}}


def _final(cost: float | None) -> dict[str, object]:
    return {"data": {"task_status": "success"}} | ({"usage": {"cost": cost}} if cost is not None else {})


def test_money_moves_by_what_was_billed() -> None:
    assert check_billing(_credits(1.0), _credits(1.5), [_final(0.2), _final(0.3), _final(None)]) == []


def test_a_balance_that_never_moves_is_an_assumption_finding() -> None:
    findings = check_billing(_credits(1.0), _credits(1.0), [_final(0.2)])

    assert findings is not None
    assert [(f.rule, f.kind) for f in findings] == [("credits_billed", Kind.ASSUMPTION)]
    assert "moved by 0 over the run, but its 1 task(s) were billed 0.2" in findings[0].message


@pytest.mark.parametrize(
    ("before", "finals"),
    [
        pytest.param(None, [_final(0.2)], id="no-first-reading"),
        pytest.param(_credits(1.0), [_final(0.2), None], id="a-task-still-open"),
        pytest.param(_credits(1.0), [], id="no-task"),
    ],
)
def test_billing_is_not_judged_without_the_facts(before: object, finals: list[dict[str, object] | None]) -> None:
    assert check_billing(before, _credits(2.0), finals) is None


@pytest.mark.parametrize(
    ("request_body", "seconds"),
    [
        pytest.param({"input": {"duration": 8}}, 8.0, id="integer"),
        pytest.param({"input": {"duration": "4"}}, 4.0, id="numeric-string"),
        pytest.param({"input": {"duration": "four"}}, None, id="not-a-number"),
        pytest.param({"input": {}}, None, id="not-given"),
        pytest.param(None, None, id="no-request"),
    ],
)
def test_the_requested_length_is_read_in_both_documented_forms(request_body: Any, seconds: float | None) -> None:
    assert requested_seconds(request_body) == seconds


@pytest.mark.parametrize(
    ("request_body", "count"),
    [
        pytest.param({"input": {"n": 3, "num_images": 2}}, 3, id="n-wins"),
        pytest.param({"input": {"num_images": 2}}, 2, id="num-images"),
        pytest.param({"input": {}}, None, id="not-given"),
        pytest.param({"input": {"n": True}}, None, id="not-an-integer"),
    ],
)
def test_the_requested_image_count_follows_the_documented_precedence(request_body: Any, count: int | None) -> None:
    assert requested_images(request_body) == count


def test_the_requested_format_is_matched_against_what_the_decoder_finds() -> None:
    assert requested_format({"input": {"output_format": "PNG"}}) == container(_png()) == "PNG"
    assert requested_format({"input": {"format": "wav"}}) == container(_wav()) == "WAVE"
    assert requested_format({"input": {"format": "pcm"}}) is None  # no container to recognise
    assert container(b"\x00 nothing at all") is None


async def _trickle(scope: Any, receive: Any, send: Any) -> None:
    """A result URL whose body never ends: a byte every 50 ms."""
    import anyio

    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]})
    for _ in range(200):
        await send({"type": "http.response.body", "body": b".", "more_body": True})
        await anyio.sleep(0.05)
    await send({"type": "http.response.body", "body": b""})


def test_a_result_that_never_finishes_downloading_is_a_failed_download_not_a_hang() -> None:
    trickle = serve_in_thread(_trickle, lifespan="off")
    try:
        status, reason = download(f"{trickle.base_url}/files/x.png", deadline=0.3)
    finally:
        trickle.stop(force=True)  # the body would go on for 10 s

    assert status == 0
    assert reason.startswith(b"still downloading after 0.3 s")
