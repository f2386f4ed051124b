"""The use cases of the mock API: create, get, credits, cancel, reset. No Starlette types here.

Rules: a status change happens in `_settle` or `cancel` only, through `lifecycle.transition`, and each
real transition fires the subscribers exactly once (`on_event(prediction, event, body)` where body is
the Get Prediction body at that moment). A poll settles its own task lazily from timestamps; a heap
timer per task (the scheduler) settles tasks nobody polls, so events fire on time.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from mock_server import behaviour, lifecycle, pricing, wire
from mock_server.behaviour import Plan
from mock_server.catalog import Catalog
from mock_server.clock import Clock
from mock_server.errors import AccessDenied, Conflict, InsufficientCredit, InvalidParams, NotFound
from mock_server.files import FileStore, outputs_for
from mock_server.ids import IdFactory
from mock_server.journal import Journal
from mock_server.lifecycle import Prediction, Status, TaskError
from mock_server.ratelimit import RateLimiter
from mock_server.rules import ErrorSpec, Rule
from mock_server.scheduler import Scheduler, TimerHandle
from mock_server.settings import Settings
from mock_server.store import Store
from mock_server.validation import validate_create
from mock_server.webhooks.policy import WebhookUrlRejected, check_create_url

__all__ = ["UNLIMITED_CREDITS", "EventCallback", "PredictionService"]

EventCallback = Callable[[Prediction, str, dict[str, Any]], Any]
UNLIMITED_CREDITS = 1_000_000.0


class PredictionService:
    def __init__(
        self,
        settings: Settings,
        *,
        catalog: Catalog,
        store: Store,
        clock: Clock,
        scheduler: Scheduler,
        journal: Journal,
        files: FileStore,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.scheduler = scheduler
        self.journal = journal
        self.files = files
        self.rules: tuple[Rule, ...] = settings.rules
        self.limiter = RateLimiter(settings.rate_limit, settings.rate_limits)
        self._ids = IdFactory(settings.seed)
        self._request_ids = IdFactory(None if settings.seed is None else settings.seed + 1)
        self._rng = random.Random(settings.seed)
        # A separate stream for errors injected into polls, so how often a client polls never changes outcomes.
        self._error_rng = random.Random(None if settings.seed is None else f"errors:{settings.seed}")
        self._timers: dict[str, TimerHandle] = {}
        self._subscribers: list[tuple[EventCallback, bool, bool]] = []
        self._keys = frozenset(settings.keys) if settings.keys is not None else None
        self._plans: dict[str, Plan] = {}

    # -- seams -------------------------------------------------------------------------------------
    def subscribe(self, callback: EventCallback, *, intermediate: bool = False, webhook_only: bool = False) -> None:
        """Call `callback(prediction, event, body)` on every terminal transition (and on creation if intermediate).

        `webhook_only` skips tasks without a `webhook` (the dispatcher's case), so they cost nothing.
        """
        self._subscribers.append((callback, intermediate, webhook_only))

    def request_id(self) -> str:
        return self._request_ids.new()

    def body(
        self, p: Prediction, request_id: str | None = None, base_url: str | None = None
    ) -> wire.GetPredictionResponse:
        """The Get Prediction body for `p` as it is now; file URLs on `base_url` (default: the creating request's)."""
        urls = self.files.urls(p, base_url or p.base_url) if p.status is Status.SUCCESS else []
        return wire.render_prediction(p, urls, request_id or self.request_id())

    # -- auth and limits ---------------------------------------------------------------------------
    def authenticate(self, key: str, accepted: str = "'Authorization: Bearer <key>'") -> str:
        """The key itself (read by `credentials`), or AccessDenied; `accepted` lists the headers it may come in."""
        if not key:
            raise AccessDenied(
                f"Authorization: missing or empty API key; send {accepted} "
                "(You have no permission to access this resource)",
                status=self.settings.auth_error_status,
            )
        if self._keys is not None and key not in self._keys:
            raise AccessDenied(
                "Authorization: this key is not accepted by the mock's configuration "
                "(You have no permission to access this resource)",
                status=self.settings.auth_error_status,
            )
        return key

    def check_rate(self, key: str) -> None:
        if self.limiter.enabled:
            self.limiter.check(key, self.clock.now())

    def global_error(self) -> ErrorSpec | None:
        """The configured global error, drawn at its rate."""
        error = self.settings.error
        if error is not None and error.rate < 1.0 and self._error_rng.random() >= error.rate:
            return None
        return error

    def total_credits(self, key: str) -> float | None:
        return self.settings.balances.get(key, self.settings.default_balance)

    def credits(self, key: str) -> wire.CreditsResponse:
        total = self.total_credits(key)
        return wire.render_credits(UNLIMITED_CREDITS if total is None else total, self.store.usage(key))

    # -- use cases ---------------------------------------------------------------------------------
    def plan(self, key: str, body: dict[str, Any], headers: Mapping[str, str]) -> tuple[Plan, Any]:
        """Validate `body` and decide how the task behaves (raises the API error to answer with)."""
        info = validate_create(self.catalog, body)
        webhook = body.get("webhook")
        if webhook is not None:
            try:
                check_create_url(webhook)
            except WebhookUrlRejected as exc:
                raise InvalidParams(str(exc)) from None
        total = self.total_credits(key)
        if total is not None and total - self.store.usage(key) <= 0:
            raise InsufficientCredit(
                f"Account overdue: key has used {self.store.usage(key):g} of {total:g} credits. "
                "To prevent abuse, a non-negative balance is required for all models."
            )
        if self._plain(headers):  # nothing can vary: reuse the one plan for this model
            plan = self._plans.get(info.name)
            if plan is None:
                plan = self._plans[info.name] = behaviour.plan(
                    self.settings,
                    (),
                    self._rng,
                    model=info.name,
                    function=info.function,
                    key=key,
                    prompt="",
                    headers={},
                )
            return plan, info
        prompt = body["input"].get("prompt") if isinstance(body.get("input"), dict) else ""
        plan = behaviour.plan(
            self.settings,
            self.rules,
            self._rng,
            model=info.name,
            function=info.function,
            key=key,
            prompt=prompt if isinstance(prompt, str) else "",
            headers=headers,
        )
        return plan, info

    def _plain(self, headers: Mapping[str, str]) -> bool:
        """True when no rule, random failure, injected error or X-Mock-* header can change the plan."""
        settings = self.settings
        return (
            not self.rules
            and settings.failure_probability == 0
            and settings.error is None
            and not any(name.startswith("x-mock-") for name in headers)
        )

    def create(self, key: str, body: dict[str, Any], plan: Plan, info: Any, base_url: str) -> Prediction:
        now = self.clock.now()
        # Only fields the model declares (so validated) plan outputs and cost: an input schema without
        # additionalProperties: false lets e.g. `duration: 1e309` through on a model that has no duration.
        params = {**info.defaults, **{k: v for k, v in body["input"].items() if k in info.fields}}
        outputs = outputs_for(info.function, params)
        price = self.settings.price_for(info.name, info.function)
        prompt = params.get("prompt")
        units = pricing.units_for(
            price,
            images=len(outputs),
            seconds=outputs[0].seconds if info.function == "video" else 0.0,
            prompt_chars=len(prompt) if isinstance(prompt, str) else 0,
        )
        failed = plan.outcome == "failed"
        p = Prediction(
            task_id=self._ids.new(),
            key=key,
            model=info.name,
            function=info.function,
            created_at=now,
            due_at=now + plan.duration,
            outcome=Status.FAILED if failed else Status.SUCCESS,
            input=body["input"],
            webhook=body.get("webhook"),
            base_url=base_url,
            outputs=outputs,
            usage=None if failed else pricing.usage_for(price, units, self.settings.discount_percent),
            error=TaskError(plan.failure_code, plan.failure_message) if failed else None,
            seed=self._rng.getrandbits(32),
            history=((now, str(Status.PROCESSING)),),
            webhook_chaos=dict(plan.webhook_chaos) if plan.webhook_chaos else None,
        )
        self.store.put(p)
        if any(intermediate for _, intermediate, _ in self._subscribers):
            self._fire(p, str(Status.PROCESSING), intermediate=True)
        if p.due_at <= now:  # time_scale 0: settle now instead of a round trip through the scheduler
            self._settle(p)
        else:
            self._timers[p.task_id] = self.scheduler.call_at(p.due_at, partial(self._settle_by_id, p.task_id))
        return p

    def get(self, key: str | None, task_id: str) -> Prediction:
        p = self.store.get(task_id)
        if p is None or (key is not None and p.key != key):
            if key is None:  # the control surface sees every key's tasks
                raise NotFound(f"task_id: no task {task_id!r}")
            raise NotFound(f"prediction_id: Prediction not found: no task {task_id!r} for this key")
        if p.status is Status.PROCESSING and self.clock.now() >= p.due_at:
            p = self._settle(p)
        return p

    def cancel(self, task_id: str) -> Prediction:
        p = self.get(None, task_id)
        if p.terminal:
            raise Conflict(f"task {task_id}: cannot cancel, status is already {p.status} (terminal)")
        p = replace(
            lifecycle.transition(p, Status.CANCELLED, now=self.clock.now()),
            usage=None,
            error=TaskError("cancelled", "The task was cancelled through the mock control surface."),
        )
        self.store.put(p)
        timer = self._timers.pop(task_id, None)
        if timer is not None:
            self.scheduler.cancel(timer)
        self._fire(p, str(Status.CANCELLED))
        return p

    def restore(self) -> int:
        """Schedule the timers of tasks still processing in the store (after a restart)."""
        count = 0
        for p in self.store.processing():
            self._timers[p.task_id] = self.scheduler.call_at(p.due_at, partial(self._settle_by_id, p.task_id))
            count += 1
        return count

    def reset(self) -> None:
        for timer in self._timers.values():
            self.scheduler.cancel(timer)
        self._timers.clear()
        self.store.reset()
        self.limiter.reset()
        self.files.clear()
        self.rules = self.settings.rules
        self._rng = random.Random(self.settings.seed)
        self._error_rng = random.Random(None if self.settings.seed is None else f"errors:{self.settings.seed}")
        self._ids = IdFactory(self.settings.seed)

    def reconfigure(self, settings: Settings, *, rules: bool) -> None:
        """Adopt settings reloaded at runtime (`--watch`): later requests see them; tasks, ids and timers stay."""
        if (settings.rate_limit, settings.rate_limits) != (self.settings.rate_limit, self.settings.rate_limits):
            self.limiter = RateLimiter(settings.rate_limit, settings.rate_limits)
        self.settings = settings
        if rules:  # the file's rules changed: they replace the runtime ones (PUT /_mock/rules)
            self.rules = settings.rules
        self._keys = frozenset(settings.keys) if settings.keys is not None else None
        self._plans.clear()

    # -- internals ---------------------------------------------------------------------------------
    def _settle_by_id(self, task_id: str) -> None:
        self._timers.pop(task_id, None)
        p = self.store.get(task_id)
        if p is not None and p.status is Status.PROCESSING:
            self._settle(p)

    def _settle(self, p: Prediction) -> Prediction:
        settled = lifecycle.settle(p, self.clock.now())
        if settled is p:
            return p
        timer = self._timers.pop(p.task_id, None)
        if timer is not None:
            self.scheduler.cancel(timer)
        self.store.put(settled)
        if settled.status is Status.SUCCESS and settled.usage is not None:
            self.store.add_usage(settled.key, settled.usage.cost)
        self._fire(settled, str(settled.status))
        return settled

    def _fire(self, p: Prediction, event: str, *, intermediate: bool = False) -> None:
        body: dict[str, Any] | None = None
        for callback, wants_intermediate, webhook_only in self._subscribers:
            if (intermediate and not wants_intermediate) or (webhook_only and not p.webhook):
                continue
            if body is None:
                body = dict(self.body(p))
            try:
                result = callback(p, event, body)
                if inspect.isawaitable(result) and not self.scheduler.spawn(result):
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
            except Exception as exc:
                self.journal.error(exc)
