"""Result files: which files a task has, their signed URLs, and their bytes rendered lazily on GET.

Creation only decides kind, format and size; bytes are rendered by `mock_server.media.render` when a
URL is fetched, and a bounded LRU keeps the most recent ones. The extension in a URL is the one the
renderer really produces for that format (probed once per format), so a fallback is never mislabelled.
"""

from __future__ import annotations

import collections
import functools
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread

from mock_server import media
from mock_server.errors import Forbidden, NotFound
from mock_server.fileurls import FileSigner
from mock_server.lifecycle import OutputFile, Prediction, Status
from mock_server.wire import decimal

__all__ = ["FileStore", "file_headers", "outputs_for"]

_probe_lock = threading.Lock()
_extensions: dict[tuple[media.Kind, str], str] = {}


def extension(kind: media.Kind, fmt: str) -> str:
    """The extension `render(kind, fmt)` produces (probed once with a tiny render)."""
    key: tuple[media.Kind, str] = (kind, fmt)
    ext = _extensions.get(key)
    if ext is None:
        with _probe_lock:
            rendered = media.render(kind, fmt or None, width=8, height=8, seconds=0.1, seed=0)
            ext = _extensions[key] = rendered.extension
    return ext


def _int(value: Any, default: int) -> int:
    try:
        return default if isinstance(value, bool) else int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def _seconds(value: Any, default: float) -> float:
    """A positive, finite number of seconds (a numeric string counts), else `default`."""
    try:
        seconds = default if isinstance(value, bool) else float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return seconds if math.isfinite(seconds) and seconds > 0 else default


@functools.lru_cache(maxsize=1024)
def _dimensions(aspect_ratio: Any, size: Any, resolution: Any, kind: media.Kind) -> tuple[int, int]:
    return media.dimensions(aspect_ratio, size, resolution, kind)


def _dims(params: Mapping[str, Any], kind: media.Kind) -> tuple[int, int]:
    keys = (params.get("aspect_ratio"), params.get("size"), params.get("resolution"))
    return _dimensions(*(k if isinstance(k, str) else None for k in keys), kind)


_OUTPUT_FIELDS = ("n", "num_images", "output_format", "format", "aspect_ratio", "size", "resolution", "duration")


def outputs_for(function: str, params: Mapping[str, Any]) -> tuple[OutputFile, ...]:
    """`_outputs_for`, memoised on the few fields it reads when they are plain scalars (the common case)."""
    if function == "audio":
        return _outputs_for(function, params)
    get = params.get
    key = (get("n"), get("num_images"), get("output_format"), get("format"), get("aspect_ratio"), get("size"),
           get("resolution"), get("duration"))  # fmt: skip
    try:
        return _cached_outputs(function, key)
    except TypeError:  # an unhashable value (a list or object where a scalar was expected)
        return _outputs_for(function, params)


@functools.lru_cache(maxsize=4096)
def _cached_outputs(function: str, key: tuple[Any, ...]) -> tuple[OutputFile, ...]:
    return _outputs_for(function, {k: v for k, v in zip(_OUTPUT_FIELDS, key, strict=True) if v is not None})


def _outputs_for(function: str, params: Mapping[str, Any]) -> tuple[OutputFile, ...]:
    """The files a task produces, from its input merged over the spec defaults.

    Field names read here are the ones NOTES.md §1.1 and §3 document as cross-model conventions:
    `n` wins over `num_images` (gpt-image-2), `output_format` or `format` pick the file type,
    `aspect_ratio` / `size` / `resolution` pick the size, `duration` the video length.
    """
    fmt = str(params.get("output_format") or params.get("format") or "")
    if function == "image":
        count = max(1, min(10, _int(params.get("n", params.get("num_images", 1)), 1)))
        w, h = _dims(params, "image")
        one = OutputFile("image", fmt or "png", w, h, 0.0, extension("image", fmt or "png"))
        return (one,) * count
    if function == "video":
        w, h = _dims(params, "video")
        seconds = _seconds(params.get("duration"), 5.0)
        return (OutputFile("video", fmt or "mp4", w, h, seconds, extension("video", fmt or "mp4")),)
    prompt = str(params.get("prompt") or "")
    seconds = max(1.0, min(60.0, len(prompt) / 15.0))
    return (OutputFile("audio", fmt or "mp3", 0, 0, seconds, extension("audio", fmt or "mp3")),)


class FileStore:
    """Signs URLs for a task's outputs and renders their bytes on demand (bounded LRU)."""

    def __init__(self, signer: FileSigner, cache_items: int = 64) -> None:
        self.signer = signer
        self._cache: collections.OrderedDict[tuple[str, int], media.Rendered] = collections.OrderedDict()
        self._size = cache_items
        self._urls: dict[tuple[str, str, int], list[str]] = {}  # (task, base URL, expiry) -> its signed URLs

    @staticmethod
    def name(p: Prediction, index: int) -> str:
        return f"{index}.{p.outputs[index].extension}"

    def urls(self, p: Prediction, base_url: str) -> list[str]:
        expiry = int((p.finished_at or p.created_at) + self.signer.ttl)
        key = (p.task_id, base_url, expiry)
        found = self._urls.get(key)
        if found is None:  # a poll loop asks for the same task's URLs again and again
            found = [base_url + self.signer.path(p.task_id, self.name(p, i), expiry) for i in range(len(p.outputs))]
            if len(self._urls) >= 4096:
                self._urls.clear()
            self._urls[key] = found
        return list(found)

    def cached(self, p: Prediction, index: int) -> media.Rendered | None:
        hit = self._cache.get((p.task_id, index))
        if hit is not None:
            self._cache.move_to_end((p.task_id, index))
        return hit

    @staticmethod
    def produce(p: Prediction, index: int) -> media.Rendered:
        """Render one output's bytes (pure; safe to run in a worker thread)."""
        o = p.outputs[index]
        return media.render(
            o.kind,
            o.fmt,
            width=o.width,
            height=o.height,
            seconds=o.seconds,
            seed=(p.seed * 31 + index) & 0xFFFFFFFF,
            text=f"{p.model} #{index + 1}",
        )

    def keep(self, p: Prediction, index: int, rendered: media.Rendered) -> None:
        self._cache[(p.task_id, index)] = rendered
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)

    async def open(
        self,
        task_id: str,
        name: str,
        expiry: str | None,
        token: str | None,
        now: float,
        lookup: Callable[[str | None, str], Prediction],
    ) -> media.Rendered:
        """The bytes of file `name` of task `task_id` at a signed URL (`?e=expiry&token=`), or the API error.

        `lookup(None, task_id)` finds the task whoever owns it (`PredictionService.get`), settling it if due.
        """
        problem = self.signer.problem(task_id, name, expiry, token, now)
        if problem:
            raise Forbidden(f"file URL: {problem} (You have no permission to access this resource)")
        p = lookup(None, task_id)
        index = decimal(name.partition(".")[0])
        if index is None or p.status is not Status.SUCCESS or not 0 <= index < len(p.outputs):
            raise NotFound(f"file: task {task_id} has no output {name!r}")
        if self.name(p, index) != name:
            raise NotFound(f"file: task {task_id} has no output {name!r}")
        rendered = self.cached(p, index)
        if rendered is None:  # render off the event loop: a video takes milliseconds the API should not wait for
            rendered = await anyio.to_thread.run_sync(self.produce, p, index)
            self.keep(p, index, rendered)
        return rendered

    def clear(self) -> None:
        self._cache.clear()
        self._urls.clear()  # a seeded run after a reset makes the same task ids again, maybe for other files


def file_headers(rendered: media.Rendered, name: str) -> dict[str, str]:
    """The response headers of a served file: caching, its name, and a format fallback if there was one."""
    headers = {"Cache-Control": "private, max-age=86400", "Content-Disposition": f'inline; filename="{name}"'}
    if rendered.fallback_from:  # the media package could not honestly produce the requested format
        headers["X-Mock-Format-Fallback"] = f"{rendered.fallback_from} -> {rendered.extension}"
    return headers
