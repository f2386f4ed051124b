"""The app factory: wires settings, clock, store, journal, scheduler, service, webhooks and routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.catalog import load_catalog
from mock_server.clock import Clock, MovableClock, SystemClock
from mock_server.context import MockContext
from mock_server.control import control_routes
from mock_server.errors import ApiError
from mock_server.files import FileStore
from mock_server.fileurls import FileSigner
from mock_server.inspector.capture import BodyLog, CaptureMiddleware
from mock_server.inspector.routes import inspector_routes
from mock_server.journal import Journal
from mock_server.middleware import MockMiddleware
from mock_server.peers import Peers
from mock_server.responses import api_error_handler, http_exception_handler
from mock_server.routes import HANDLERS, public_routes
from mock_server.scheduler import Scheduler
from mock_server.service import PredictionService
from mock_server.settings import Settings
from mock_server.store import Store, open_store

__all__ = ["create_app"]


class MockApp(Starlette):
    """Starlette, whose HTTP requests skip its outermost `ServerErrorMiddleware` once the stack is built.

    That layer wraps `send` in a closure and answers a plain-text 500 for an exception nothing inside caught.
    Here `MockMiddleware`, just inside it, answers every exception from the app in the error envelope itself,
    and uvicorn answers the same plain-text 500 for one raised by the middleware's own code. Skipping it and
    `Starlette.__call__` took ~8,000 of ~176,000 instructions off a GET (callgrind, 2026-12-02). Lifespan and
    anything else still take the whole stack.
    """

    _front: ASGIApp | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        self._front = stack.app if isinstance(stack, ServerErrorMiddleware) else None
        return stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self._front
        if front is not None and scope["type"] == "http":
            scope["app"] = self
            await front(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _dispatcher(ctx: dict[str, Any], settings: Settings, http_client: Any) -> Any:
    from mock_server.webhooks.dispatcher import WebhookDispatcher

    return WebhookDispatcher(
        settings.webhooks,  # `webhook_secret` is already in `webhooks.secrets` (Settings resolves the alias)
        clock=ctx["clock"],
        scheduler=ctx["scheduler"],
        client=http_client,
        store=ctx["store"],
        seed=settings.seed,
        on_error=ctx["journal"].error,
    )


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    http_client: Any = None,
    store: Store | None = None,
) -> MockApp:
    """Build the mock as an ASGI app; `app.state.mock` holds its parts (service, journal, clock, store...)."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    catalog = load_catalog()
    store = store or open_store(settings.store, journal_limit=settings.webhooks.journal_limit)
    peers = Peers(store, clock if isinstance(clock, SystemClock) else None)
    journal = Journal(settings.journal_size)
    # A clock that moves only when told (a FakeClock) wakes the scheduler itself: no sleeping on wall time.
    sleeps = clock.running if isinstance(clock, MovableClock) else True
    scheduler = Scheduler(clock, sleeps=sleeps, on_error=journal.error)
    if isinstance(clock, MovableClock):
        clock.subscribe(scheduler.wake)
    files = FileStore(FileSigner(settings.url_secret, settings.url_ttl), settings.media_cache_items)
    service = PredictionService(
        settings, catalog=catalog, store=store, clock=clock, scheduler=scheduler, journal=journal, files=files
    )
    parts = {"clock": clock, "scheduler": scheduler, "store": store, "journal": journal}
    dispatcher = _dispatcher(parts, settings, http_client)
    if dispatcher is not None:
        service.attach_outbox(dispatcher, intermediate=settings.webhooks.intermediate)
    service.restore()
    context = MockContext(
        settings=settings,
        clock=clock,
        catalog=catalog,
        store=store,
        journal=journal,
        scheduler=scheduler,
        files=files,
        service=service,
        webhooks=dispatcher,
        peers=peers,
    )
    peers.share_rules(service, settings.rules)  # PUT /_mock/rules reaches every process on a shared store
    peers.share_journal(journal)  # GET /_mock/requests lists every process's requests
    if service.batched is not None and peers.announces:  # a reset elsewhere is announced: ended tasks can be kept
        service.keep_ended()
        peers.on_change(service.forget_ended)

    bodies = BodyLog()  # request and response bodies behind the journal, for the inspector

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            scheduler.start(tg)
            if peers.shared:
                tg.start_soon(
                    peers.run, service, clock.now, dispatcher.resume if dispatcher is not None else None, journal.error
                )
            if dispatcher is not None:
                await dispatcher.start()
            try:
                yield
            finally:
                if dispatcher is not None:
                    await dispatcher.aclose()
                scheduler.stop()
                tg.cancel_scope.cancel()
        store.close()

    # CaptureMiddleware keeps the bodies the inspector shows (replayed answers too)
    api = public_routes(catalog.spec, context)
    # Without replay, MockMiddleware answers the API's operations itself (no router, no capture layer).
    direct = [r for r in api if r.name in HANDLERS] if not settings.replay else []
    middleware = [  # MockMiddleware reads the shared clock first (`peers.before_request`)
        Middleware(MockMiddleware, context=context, direct=direct, keep_bodies=bodies.keep),
        Middleware(CaptureMiddleware, log=bodies),
    ]
    if settings.replay:  # inside MockMiddleware: replayed answers are journaled and carry a request id
        from mock_server.replay import ReplayMiddleware, load_replay

        book = load_replay(settings.replay, settings.seed)
        middleware.append(Middleware(ReplayMiddleware, context=context, book=book, strict=settings.replay_strict))
    app = MockApp(
        routes=[*api, *control_routes(), *inspector_routes()],
        middleware=middleware,
        exception_handlers={ApiError: api_error_handler, HTTPException: http_exception_handler},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # an API answers 404 in the envelope, not a 307 to another path
    app.state.mock = context
    app.state.webhooks = dispatcher
    app.state.inspector_bodies = bodies
    return app
