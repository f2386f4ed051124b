"""Control-surface routes for the webhook journal, mounted by the mock's app under `/_mock/webhooks`.

`GET /_mock/webhooks?task_id=&status=`, `GET /_mock/webhooks/{delivery_id}` and
`POST /_mock/webhooks/{delivery_id}/redeliver`. The dispatcher is read from `request.app.state.webhooks`;
errors are raised as `ApiError`s so the app's one exception handler renders the envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mock_server.errors import InvalidParams, NotFound
from mock_server.responses import json_response
from mock_server.webhooks.dispatcher import WebhookDispatcher
from mock_server.webhooks.journal import DeliveryStatus
from mock_server.webhooks.policy import mask_secrets

__all__ = ["webhook_routes"]

_STATUSES = [s.value for s in DeliveryStatus]


def _dispatcher(request: Request) -> WebhookDispatcher:
    dispatcher: WebhookDispatcher = request.app.state.webhooks
    return dispatcher


T = TypeVar("T")


async def _read(dispatcher: WebhookDispatcher, read: Callable[[], T]) -> T:
    """`read()` on a worker thread when it reads a shared store (a hung Redis holds it, not the loop), else here."""
    return await anyio.to_thread.run_sync(read, abandon_on_cancel=True) if dispatcher.shared else read()


async def list_deliveries(request: Request) -> Response:
    status = request.query_params.get("status")
    if status is not None and status not in _STATUSES:
        raise InvalidParams(f"status: must be one of {', '.join(_STATUSES)}; got {status!r}")
    task_id = request.query_params.get("task_id")
    dispatcher = _dispatcher(request)

    def listed() -> Any:
        return mask_secrets(
            {"deliveries": [d.to_record(payload=False) for d in dispatcher.list(task_id=task_id, status=status)]}
        )

    return json_response(await _read(dispatcher, listed))


async def get_delivery(request: Request) -> Response:
    delivery_id = request.path_params["delivery_id"]
    dispatcher = _dispatcher(request)
    try:
        delivery = await _read(dispatcher, lambda: dispatcher.get(delivery_id))
    except KeyError:
        raise NotFound(f"delivery_id: no webhook delivery {delivery_id!r} in the journal") from None
    return json_response(mask_secrets(delivery.to_record()))


async def redeliver(request: Request) -> Response:
    delivery_id = request.path_params["delivery_id"]
    try:
        delivery = _dispatcher(request).redeliver(delivery_id)
    except KeyError:
        raise NotFound(f"delivery_id: no webhook delivery {delivery_id!r} in the journal") from None
    return json_response(mask_secrets(delivery.to_record(payload=False)), 202)


def webhook_routes(prefix: str = "/_mock/webhooks") -> list[Route]:
    """The three routes, ready to add to the app's route table."""
    return [
        Route(prefix, list_deliveries, methods=["GET"]),
        Route(prefix + "/{delivery_id}", get_delivery, methods=["GET"]),
        Route(prefix + "/{delivery_id}/redeliver", redeliver, methods=["POST"]),
    ]
