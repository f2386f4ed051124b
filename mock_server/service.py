"""The use cases of the mock API: create, get, credits, cancel, reset. No Starlette types here.

Every API operation takes two steps: `admit` (auth, rate limit, body, validation, credits, what `behaviour`
decides, the injected latency, and settling due tasks before a read that counts them) returns an
`Admission`; then `create`, `prediction` or `credits` raises the injected error or answers.

Rules: a status change happens in `_settle` or `cancel` only, through `lifecycle.transition`, and each
real transition fires the subscribers exactly once (`on_event(prediction, event, body)` where body is
the Get Prediction body at that moment). A poll settles its own task lazily from timestamps; one scheduler
timer, for the earliest due task of a heap, settles tasks nobody polls, so events fire on time (on a running
clock at most SETTLE_BATCH late: one wake per 5 ms instead of one per task took the timer loop from 28 to
15 us of CPU per task due at 4,500/s, 2026-12-02; a read of /_mock or Get Credits settles what is due first,
`settle_overdue`). A task with no event to fire (no webhook, no subscriber) gets no timer on a running clock
in one process: the first read that could see it settles it (`_quiet_for`).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import heapq
import inspect
import random
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Literal, NoReturn, Protocol, TypeVar

import anyio.to_thread

from mock_server import behaviour, lifecycle, pricing, wire
from mock_server.behaviour import Plan
from mock_server.catalog import Catalog, ModelInfo
from mock_server.clock import Clock, MovableClock
from mock_server.errors import AccessDenied, Conflict, InjectedError, InsufficientCredit, InvalidParams, NotFound
from mock_server.files import FileStore, outputs_for
from mock_server.frozen import quick_init
from mock_server.ids import IdFactory
from mock_server.journal import Journal
from mock_server.lifecycle import OutputFile, Prediction, Status, TaskError, Usage
from mock_server.note import RequestNote
from mock_server.ratelimit import RateLimiter, shared_buckets
from mock_server.rules import ErrorSpec, Rule, parse_rules
from mock_server.scheduler import Scheduler, TimerHandle, delay
from mock_server.settings import Settings
from mock_server.store import BatchedRequests, OutboxRecord, Store
from mock_server.validation import validate_create
from mock_server.webhooks.policy import WebhookUrlRejected, check_create_url

__all__ = [
    "UNLIMITED_CREDITS",
    "Admission",
    "BodyReader",
    "EventCallback",
    "Operation",
    "Outbox",
    "OutboxItem",
    "PredictionService",
]

EventCallback = Callable[[Prediction, str, dict[str, Any]], Any]
T = TypeVar("T")
UNLIMITED_CREDITS = 1_000_000.0
SETTLE_BATCH = 0.005  # seconds: how late at most the due-task timer settles a task nobody polls (real clocks)
SETTLE_CHUNK = 256  # due tasks a shared store settles between two turns of the event loop (`_commit_due`)
SETTLE_CHUNK_SYNC = 64  # the same where each settle is a transaction of its own (SQLite: ~0.4 ms each)
ENDED_KEPT = 10_000  # ended tasks a process keeps to answer polls without a store read (`keep_ended`)
RECIPES_KEPT = 1024  # distinct create bodies whose reading is kept (`_recipe`), oldest dropped first
RECIPE_MAX_BYTES = 4096  # a longer body is read anew each time: 1,024 of them stay under ~4 MiB of keys
# The spec's operationIds the mock implements (routes.HANDLERS checks them against openapi/predictions.yaml).
Operation = Literal["createPrediction", "getPrediction", "getCredits"]
BodyReader = Callable[[], Awaitable[bytes]]  # reads the raw body up to the limit, once auth has passed


@dataclass(frozen=True, slots=True)
class Recipe:
    """What a valid create body decides by itself: its model, the task's input, webhook, files and planned usage.

    A pure function of the body's bytes and Content-Type under one set of settings, so `_recipe` keeps one per
    distinct body: a load test sends the same few bodies again and again.
    """

    model: ModelInfo
    input: dict[str, Any]  # the task's input (`_shared_input`), validated, case-insensitive enums spelled as the
    # spec does; never mutated
    webhook: str | None
    outputs: tuple[OutputFile, ...]
    usage: Usage  # what the task costs if it succeeds; held while it runs


@quick_init
@dataclass(frozen=True, slots=True)
class Admission:
    """A request let in by `PredictionService.admit`: whose it is and the error it was planned to get; for a
    create, also what its body decides and how the task behaves."""

    operation: Operation
    key: str
    note: RequestNote
    error: ErrorSpec | None = None
    recipe: Recipe | None = None  # createPrediction's
    plan: Plan | None = None  # createPrediction's


class OutboxItem(Protocol):
    """A record written with a transition (a webhook delivery): its id and its stored form."""

    @property
    def delivery_id(self) -> str: ...
    def to_stored(self) -> dict[str, Any]: ...


class Outbox(Protocol):
    """The webhook engine's side of the transactional outbox (`WebhookDispatcher.prepare`/`accept`)."""

    def prepare(self, prediction: Prediction, event: str, body: Mapping[str, Any]) -> Sequence[OutboxItem]: ...
    def accept(self, items: Sequence[OutboxItem]) -> None: ...


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
        catalog.check_rules(settings.rules)  # a startup error naming the rule
        self.rules: tuple[Rule, ...] = settings.rules
        self.limiter = RateLimiter(settings.rate_limit, settings.rate_limits, shared_buckets(store))
        self._ids = self._task_ids()
        self._request_ids = IdFactory(None if settings.seed is None else settings.seed + 1)
        self._rng = random.Random(settings.seed)
        # A separate stream for errors injected into polls, so how often a client polls never changes outcomes.
        self._error_rng = random.Random(None if settings.seed is None else f"errors:{settings.seed}")
        # Due times of tasks still processing, one heap for all (a scheduler timer for its earliest only):
        # ~90 bytes per live task instead of ~430 for a timer handle, a partial and an index entry each.
        self._due: list[tuple[float, str]] = []
        self._wake: TimerHandle | None = None
        # Due times of tasks whose settling nobody observes when it happens (see `_quiet_for`): settled by the
        # first read that could see them (a poll, /_mock, /metrics, Get Credits, a create on a finite balance).
        self._quiet: list[tuple[float, str]] = []
        # On a clock that runs by itself, the due-task timer wakes at most once per SETTLE_BATCH seconds:
        # at 4,500 creates/s a wake per task costs ~13 us more (an anyio sleep, event and cancel scope), and a
        # poll or a read of /_mock settles what is due anyway (`get`, `settle_overdue`). A clock that moves
        # only when told (FakeClock) settles each task at its due time exactly.
        self._batch = SETTLE_BATCH if not isinstance(clock, MovableClock) or clock.running else 0.0
        self._subscribers: list[tuple[EventCallback, bool, bool]] = []
        self._intermediate = False  # some subscriber wants creations too
        self._every_settle = False  # some subscriber wants tasks without a webhook too
        # One process, on a clock that runs by itself: a task nobody watches needs no timer (see `_quiet_for`).
        self._lazy = bool(self._batch) and not store.multiprocess
        self._chunked = store.multiprocess  # due tasks settled in chunks, the loop free between them (`_commit_due`)
        self._keys = frozenset(settings.keys) if settings.keys is not None else None
        self._plans: dict[str, Plan] = {}
        self._recipes: dict[tuple[bytes, str | None], Recipe] = {}  # see `_recipe`
        self._outbox: Outbox | None = None
        self._outbox_intermediate = False
        self._settling: set[str] = set()  # ids a batched settle took from `_due` and has not written yet
        self._commits: set[asyncio.Future[None]] = set()  # the futures of the batched settles under way (`_commit_due`)
        self._resets = 0  # how many resets: a batched settle read before one writes nothing after it
        # Redis: the request path awaits its round trips, shared by the requests in flight (store.redis_batch)
        self.batched: BatchedRequests | None = store if isinstance(store, BatchedRequests) else None
        self._shared_limits = shared_buckets(store) is not None  # the limiter's buckets are the store's
        self._ended: collections.OrderedDict[str, Prediction] | None = None  # see `keep_ended`

    # -- seams -------------------------------------------------------------------------------------
    def subscribe(self, callback: EventCallback, *, intermediate: bool = False, webhook_only: bool = False) -> None:
        """Call `callback(prediction, event, body)` on every terminal transition (and on creation if intermediate).

        `webhook_only` skips tasks without a `webhook` (the dispatcher's case), so they cost nothing.
        """
        self._subscribers.append((callback, intermediate, webhook_only))
        self._intermediate = self._intermediate or intermediate
        self._every_settle = self._every_settle or not webhook_only

    def attach_outbox(self, outbox: Outbox, *, intermediate: bool = False) -> None:
        """Write `outbox`'s records for each terminal transition (and creation if intermediate) in the same
        store transaction as the task, then hand them to `outbox.accept` (transactional outbox)."""
        self._outbox = outbox
        self._outbox_intermediate = intermediate

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

    async def admit(
        self, operation: Operation, headers: Mapping[str, str], note: RequestNote, body: BodyReader | None = None
    ) -> Admission:
        """Auth and rate limit, then (a create) its body, validation, credits and plan, then the injected latency."""
        credentials = self.catalog.credentials[operation]  # the headers the spec's `security` names
        key = credentials.key(headers)
        if not key or (self._keys is not None and key not in self._keys):
            self.authenticate(key, credentials.hint())  # raises: the hint is built for refusals only
        note.key = key
        batched = self.batched
        if self.limiter.enabled:
            if batched is not None and self._shared_limits:
                await self.limiter.check_async(key, self.clock.now(), batched.take_token_async)
            else:
                self.limiter.check(key, self.clock.now())
        recipe, plan = None, None
        if body is not None:
            recipe = self._recipe(await body(), headers.get("content-type"))
            used = None  # read here, checked in `_plan`
            if batched is not None and self.total_credits(key) is not None:
                used = await batched.used_async(key)
            plan = self._plan(key, recipe, headers, used)
            latency, error = plan.latency, plan.error
        else:
            injection = behaviour.inject(self.settings, self._error_rng, headers)
            latency, error = injection.latency, injection.error
        if latency:
            await delay(latency)
        if error is None and operation == "getCredits":  # tasks due by now hold no credits
            await self.settle_all_due()
        return Admission(operation, key, note, error, recipe, plan)

    def _raise_injected(self, error: ErrorSpec) -> NoReturn:
        # Without a type, the error carries the one the spec documents for its status (429 rate_limit, ...).
        error_type = error.type or self.catalog.error_type(error.status)
        raise InjectedError(error.message, status=error.status, type=error_type)

    def total_credits(self, key: str) -> float | None:
        return self.settings.balances.get(key, self.settings.default_balance)

    def credits(self, admission: Admission) -> wire.CreditsResponse:
        """The Get Credits body for the admitted key (or its injected error)."""
        if admission.error is not None:
            self._raise_injected(admission.error)
        key = admission.key
        total = self.total_credits(key)
        # Credits held by tasks still processing count as used until they settle (docs/assumptions.md).
        used = self._used(key)
        return wire.render_credits(UNLIMITED_CREDITS if total is None else total, used)

    def _used(self, key: str) -> float:
        return self.store.usage(key) + self.store.reserved(key)

    def _overdue(self, key: str, total: float, cost: float) -> InsufficientCredit:
        used, held = self.store.usage(key), self.store.reserved(key)
        would = f"; this task would cost {cost:g}" if cost > 0 else ""
        return InsufficientCredit(
            f"Account overdue: key has used {used:g} and reserved {held:g} (tasks still processing) of {total:g} "
            f"credits{would}. To prevent abuse, a non-negative balance is required for all models."
        )

    # -- use cases ---------------------------------------------------------------------------------
    def _recipe(self, raw: bytes, content_type: str | None) -> Recipe:
        """The create body `raw` parsed, validated and priced (raises the API error to answer with).

        Kept per distinct (bytes, Content-Type) up to RECIPES_KEPT, so a body sent again skips the JSON
        decoder, the schema, the webhook URL policy and pricing: 104 -> 89 us of server CPU per create under
        wrk (one core, 2026-12-07). Only a valid body is kept, so every refusal is worked out, and named, anew;
        `reconfigure` (prices, discount, body limits) empties it.
        """
        cache_key = (raw, content_type)
        recipes = self._recipes
        found = recipes.get(cache_key)
        if found is not None:
            return found
        settings = self.settings
        body = wire.parse_json_body(
            raw, content_type, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth
        )
        info = validate_create(self.catalog, body)
        webhook = body.get("webhook")
        if webhook is not None:
            try:
                check_create_url(webhook)
            except WebhookUrlRejected as exc:
                raise InvalidParams(str(exc)) from None
        # Only fields the model declares (so validated) plan outputs and cost: an input schema without
        # additionalProperties: false lets e.g. `duration: 1e309` through on a model that has no duration.
        fields = body["input"]
        params = {**info.defaults, **{k: v for k, v in fields.items() if k in info.fields}}
        outputs = outputs_for(info.function, params)
        price = settings.price_for(info.name, info.function)
        prompt = params.get("prompt")
        units = pricing.units_for(
            price,
            images=len(outputs),
            seconds=outputs[0].seconds if info.function == "video" else 0.0,
            prompt_chars=len(prompt) if isinstance(prompt, str) else 0,
        )
        usage = pricing.usage_for(price, units, settings.discount_percent)
        recipe = Recipe(info, _shared_input(fields), webhook, outputs, usage)
        if len(raw) <= RECIPE_MAX_BYTES:
            if len(recipes) >= RECIPES_KEPT:
                del recipes[next(iter(recipes))]
            recipes[cache_key] = recipe
        return recipe

    def _plan(self, key: str, recipe: Recipe, headers: Mapping[str, str], used: float | None = None) -> Plan:
        """Check the key's balance and decide how the task behaves (raises the API error to answer with); `used`
        is the key's usage plus reservations when the caller read them already."""
        info = recipe.model
        total = self.total_credits(key)
        if total is not None:
            self._settle_for_credits()
            if total - (self._used(key) if used is None else used) <= 0:
                raise self._overdue(key, total, 0.0)
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
            return plan
        prompt = recipe.input.get("prompt")
        return behaviour.plan(
            self.settings,
            self.rules,
            self._rng,
            model=info.name,
            function=info.function,
            key=key,
            prompt=prompt if isinstance(prompt, str) else "",
            headers=headers,
        )

    def _plain(self, headers: Mapping[str, str]) -> bool:
        """True when no rule, random failure, injected error or X-Mock-* header can change the plan."""
        settings = self.settings
        if self.rules or settings.failure_probability != 0 or settings.error is not None:
            return False
        return headers.keys().isdisjoint(behaviour.PLAN_HEADERS)

    def create(self, admission: Admission, base_url: str) -> Prediction:
        """Create the admitted task (or raise its injected error); file URLs will be on `base_url`."""
        p, items, reserve, total = self._new_task(admission, base_url)
        if not self.store.admit(p, reserve=reserve, limit=total, outbox=_records(items)):
            raise self._overdue(p.key, total or 0.0, reserve)
        return self._created(admission, p, items)

    async def create_batched(self, admission: Admission, base_url: str) -> Prediction:
        """`create` on a store that batches the request path's round trips (`batched`): the write is awaited."""
        assert self.batched is not None
        p, items, reserve, total = self._new_task(admission, base_url)
        if not await self.batched.admit_async(p, reserve=reserve, limit=total, outbox=_records(items)):
            raise self._overdue(p.key, total or 0.0, reserve)
        return self._created(admission, p, items)

    def _new_task(
        self, admission: Admission, base_url: str
    ) -> tuple[Prediction, Sequence[OutboxItem], float, float | None]:
        """The admitted create's task, its outbox items, the credits to hold for it and the key's limit."""
        if admission.error is not None:
            self._raise_injected(admission.error)
        key, recipe, plan = admission.key, admission.recipe, admission.plan
        if recipe is None or plan is None:
            raise TypeError(f"create: admission for {admission.operation} carries no body (admit it with one)")
        info = recipe.model
        now = self.clock.now()
        failed = plan.outcome is Status.FAILED
        planned = recipe.usage
        p = Prediction(
            task_id=self._ids.new(),
            key=key,
            model=info.name,
            function=info.function,
            created_at=now,
            due_at=now + plan.duration,
            outcome=Status.FAILED if failed else Status.SUCCESS,
            input=recipe.input,
            webhook=recipe.webhook,
            base_url=sys.intern(base_url),  # one string per host, not per task
            outputs=recipe.outputs,
            usage=None if failed else planned,
            error=TaskError(plan.failure_code, plan.failure_message) if failed else None,
            seed=self._rng.getrandbits(32),
            history=((now, _PROCESSING),),
            webhook_chaos=dict(plan.webhook_chaos) if plan.webhook_chaos else None,
        )
        # The planned cost is held whatever the outcome (the client cannot know it): released on failure or cancel.
        items = self._prepare(p, str(Status.PROCESSING)) if self._outbox_intermediate else ()
        total = self.total_credits(key)
        if total is not None:
            self._settle_for_credits()  # the injected latency may have passed since `_plan` read the balance
        return p, items, planned.cost, total

    def _created(self, admission: Admission, p: Prediction, items: Sequence[OutboxItem]) -> Prediction:
        """What follows a create's write: the journal's task id, the outbox, subscribers, its settle or timer."""
        now = p.created_at
        admission.note.task_id = p.task_id
        self._accept(items)
        if self._intermediate:
            self._fire(p, str(Status.PROCESSING), intermediate=True)
        if p.due_at <= now:  # time_scale 0: settle now instead of a round trip through the scheduler
            self._settle(p)
        else:
            self._schedule(p)
        return p

    def prediction(self, admission: Admission, task_id: str, base_url: str) -> wire.GetPredictionResponse:
        """The Get Prediction body of the admitted key's task (or its injected error), file URLs on `base_url`."""
        if admission.error is not None:
            self._raise_injected(admission.error)
        admission.note.task_id = task_id
        return self.body(self.get(admission.key, task_id), base_url=base_url)

    async def prediction_batched(self, admission: Admission, task_id: str, base_url: str) -> wire.GetPredictionResponse:
        """`prediction` on a store that batches the request path's round trips (`batched`): the read is awaited,
        unless the task ended and this process has read it since the last announced change (`keep_ended`)."""
        assert self.batched is not None
        if admission.error is not None:
            self._raise_injected(admission.error)
        admission.note.task_id = task_id
        ended = self._ended
        if ended is not None and (kept := ended.get(task_id)) is not None:
            ended.move_to_end(task_id)
            return self.body(self._found(admission.key, task_id, kept), base_url=base_url)
        found = await self.read(admission.key, task_id)
        if ended is not None and found.terminal:  # into the dict read before: a reset meanwhile replaced it
            if len(ended) >= ENDED_KEPT:
                ended.popitem(last=False)  # the one read longest ago
            ended[task_id] = found
        return self.body(found, base_url=base_url)

    def keep_ended(self) -> None:
        """Let `prediction_batched` answer an ended task from this process's memory, without a round trip.

        An ended task never changes in the store; only a reset removes it. The caller (`app`) calls
        `forget_ended()` on every change another process announces (a reset announces one: `Peers`), so a poll
        after a reset anywhere answers 404 as it must. On Redis this saves the round trip per poll of an ended
        task: `bench_store`, `--workers 2` (2026-12-03 11:15-11:22 UTC, quiet, wrk, 5-6 rounds, the tree before
        as `--before`): GET 12,681-14,996 vs 9,572-11,797 req/s, mock CPU 100-122 vs 115-134 us and redis-server
        0 vs 9-11 us per GET. The tasks are mostly the same objects the store's decode cache holds
        (`store.redis.DECODED`), so the cost is ~100 bytes per entry.
        """
        self._ended = collections.OrderedDict()

    def forget_ended(self) -> None:
        """Forget the kept ended tasks. A new dict, not a cleared one: a read still in flight (its task may be gone
        by now) keeps what it read in the old one, which nothing reads any more."""
        if self._ended is not None:
            self._ended = collections.OrderedDict()

    def get(self, key: str | None, task_id: str) -> Prediction:
        return self._found(key, task_id, self.store.get(task_id))

    async def read(self, key: str | None, task_id: str) -> Prediction:
        """`get` without holding the event loop on a shared store's read: Redis's batched read, SQLite's on a
        worker thread (a hung Redis holds that read for its timeout, not every request); a task due by now is
        settled as `get` settles it."""
        if self.batched is not None:
            stored = await self.batched.get_async(task_id)
        else:
            stored = await self._blocking(self.store.get, task_id)
        return self._found(key, task_id, stored)

    async def _blocking(self, call: Callable[..., Any], *args: Any) -> Any:
        """`call(*args)`, a store call: on a worker thread for a shared store (SQLite: thread-safe, and a write
        there is waited for even if the client goes away), inline for this process's memory."""
        if self.store.multiprocess:
            return await anyio.to_thread.run_sync(call, *args)
        return call(*args)

    def _found(self, key: str | None, task_id: str, p: Prediction | None) -> Prediction:
        if p is None or (key is not None and p.key != key):
            if key is None:  # the control surface sees every key's tasks
                raise NotFound(f"task_id: no task {task_id!r}")
            raise NotFound(f"prediction_id: Prediction not found: no task {task_id!r} for this key")
        if p.status is Status.PROCESSING and self.clock.now() >= p.due_at:
            p = self._settle(p)
        return p

    async def cancel(self, task_id: str) -> Prediction:
        """Cancel a task still processing (Conflict once it has ended), without holding the event loop on a
        shared store's round trips (`read`; the commit through Redis's batched client or `_blocking`)."""
        p = await self.read(None, task_id)
        if p.terminal:
            raise Conflict(f"task {task_id}: cannot cancel, status is already {p.status} (terminal)")
        p = replace(
            lifecycle.transition(p, Status.CANCELLED, now=self.clock.now()),
            usage=None,
            error=TaskError("cancelled", "The task was cancelled through the mock control surface."),
        )
        items = self._prepare(p, str(Status.CANCELLED))
        if self.batched is not None:
            (written,) = await self.batched.commit_many_async([(p, 0.0, _records(items))])
            current = None if written else await self.batched.get_async(task_id)
        else:
            written = await self._blocking(partial(self.store.commit, p, charge=0.0, outbox=_records(items)))
            current = None if written else await self._blocking(self.store.get, task_id)
        if not written:
            status = current.status if current is not None else "gone"
            raise Conflict(f"task {task_id}: cannot cancel, status is already {status} (another process settled it)")
        self._accept(items)  # its due entry stays in the heap and finds the task terminal: a no-op
        self._fire(p, str(Status.CANCELLED))
        return p

    def restore(self) -> int:
        """Schedule the timers of tasks still processing in the store (after a restart)."""
        count = 0
        for p in self.store.processing():
            self._schedule(p)
            count += 1
        return count

    def reset(self) -> None:
        if self._wake is not None:
            self.scheduler.cancel(self._wake)
        self._wake = None
        self._due.clear()
        self._quiet.clear()
        self._settling.clear()
        self._resets += 1
        self.forget_ended()
        self.store.reset()
        self.limiter.reset()
        self.files.clear()
        self.rules = self.settings.rules
        self._rng = random.Random(self.settings.seed)
        self._error_rng = random.Random(None if self.settings.seed is None else f"errors:{self.settings.seed}")
        self._ids = self._task_ids()
        self._request_ids = IdFactory(None if self.settings.seed is None else self.settings.seed + 1)

    def adopt_rules(self, rules: tuple[Rule, ...]) -> None:
        """Rules put elsewhere (another process on the shared store, `PUT /_mock/rules`) for later creates."""
        self.catalog.check_rules(rules)
        self.rules = rules
        self._plans.clear()

    def adopt_raw_rules(self, raw: Any) -> None:
        """`adopt_rules` of rules as `PUT /_mock/rules` takes them; SettingsError when they do not parse."""
        self.adopt_rules(parse_rules(raw))

    def reconfigure(self, settings: Settings, *, rules: bool) -> None:
        """Adopt settings reloaded at runtime (`--watch`): later requests see them; tasks, ids and timers stay.
        SettingsError, with nothing changed, for rules that match a model or function the spec does not have."""
        if rules:
            self.catalog.check_rules(settings.rules)
        if (settings.rate_limit, settings.rate_limits) != (self.settings.rate_limit, self.settings.rate_limits):
            self.limiter = RateLimiter(settings.rate_limit, settings.rate_limits, shared_buckets(self.store))
        self.settings = settings
        if rules:  # the file's rules changed: they replace the runtime ones (PUT /_mock/rules)
            self.rules = settings.rules
        self._keys = frozenset(settings.keys) if settings.keys is not None else None
        self._plans.clear()
        self._recipes.clear()  # prices, discount and body limits may have changed

    # -- internals ---------------------------------------------------------------------------------
    def _task_ids(self) -> IdFactory:
        # Seeded ids come in blocks the store hands out once, so a restart never reuses a task id.
        return IdFactory(self.settings.seed, blocks=partial(self.store.next_block, "task_id"))

    def _prepare(self, p: Prediction, event: str) -> Sequence[OutboxItem]:
        if self._outbox is None or not p.webhook:
            return ()
        return self._outbox.prepare(p, event, dict(self.body(p)))

    def _accept(self, items: Sequence[OutboxItem]) -> None:
        if self._outbox is not None and items:
            try:
                self._outbox.accept(items)
            except Exception as exc:  # committed: the dispatcher resumes them at its next start
                self.journal.error(exc)

    def _quiet_for(self, p: Prediction) -> bool:
        """True when nothing happens at `p`'s due time that a client could see before it reads the task.

        Settling a task fires its webhook (the outbox) and the subscribers; without those, what settling
        changes (status, credits held or charged) is seen only through a read, and every read settles first:
        a poll its own task (`get`), /_mock and /metrics reads and Get Credits everything due
        (`settle_overdue`), a create on a finite balance too (`_settle_for_credits`). So on a running clock
        in one process such a task gets no timer. At 8,000 creates/s the timer settled each task 10 s later
        for ~15 us of server CPU (2026-12-02 12:55 UTC, load 0.4): a load test without webhooks paid it in
        every later request. A shared store keeps the timer (other processes read it directly), and so does a
        FakeClock (each task settles at its due time exactly, as tests expect).
        """
        return (
            self._lazy
            and not self._every_settle
            and not (p.webhook and (self._outbox is not None or self._subscribers))
        )

    def _schedule(self, p: Prediction) -> None:
        if self._quiet_for(p):
            heapq.heappush(self._quiet, (p.due_at, p.task_id))
            return
        heapq.heappush(self._due, (p.due_at, p.task_id))
        if self._wake is None or p.due_at < self._wake.when:
            if self._wake is not None:
                self.scheduler.cancel(self._wake)
            self._wake = self.scheduler.call_at(p.due_at, self._run_due)

    def settle_overdue(self) -> None:
        """Settle every task whose due time has come (cheap when none has): before a read that lists tasks."""
        for due in (self._due, self._quiet):
            if due and due[0][0] <= self.clock.now():
                now = self.clock.now()
                while due and due[0][0] <= now:
                    self._settle_by_id(heapq.heappop(due)[1])
        for task_id in list(self._settling):  # taken by a batched settle still being written: ended before a read
            self._settle_by_id(task_id)

    async def settle_all_due(self) -> int:
        """End every task of this process due by now, then run the timers due; how many ran. Before a read that
        counts tasks (/_mock, /metrics, Get Credits) and after a clock advance.

        On a shared store the tasks are settled SETTLE_CHUNK at a time (`_commit_due`: on Redis one MGET and one
        batch of commit scripts each) and other requests are answered between chunks: `settle_overdue` held the
        event loop for 838 ms to settle 3,000 tasks after one clock advance on Redis, a poll waiting as long
        (SQLite 335 ms; memory, which stays as it was, 36-53 ms); `bench/bench_settle.py` has the figures after.
        Those the timer is writing already are waited for, so every task due has ended when this returns.
        """
        try:
            if not self._chunked:
                self.settle_overdue()
            else:
                now, ids, started = self.clock.now(), [], list(self._commits)
                for due in (self._due, self._quiet):
                    while due and due[0][0] <= now:
                        ids.append(heapq.heappop(due)[1])
                if ids:
                    self._settling.update(ids)
                    await self._commit_due(ids)
                for done in started:  # the timer's settles begun before: ended when this returns
                    await asyncio.shield(done)  # (a waiter cancelled, e.g. its client gone, leaves it be)
        finally:
            ran = await self.scheduler.run_due()
        return ran

    def _settle_for_credits(self) -> None:
        """Before a create reads a finite balance: quiet tasks due by now stop holding credits (`_quiet_for`)."""
        quiet = self._quiet
        if quiet and quiet[0][0] <= self.clock.now():
            self.settle_overdue()

    def _run_due(self) -> Awaitable[None] | None:
        """Settle every task whose due time has come, then wait for the next one (batched: see `__init__`)."""
        self._wake = None
        settling = None
        if self._chunked and self._batch:  # a shared store on a running clock: see `_commit_due`
            settling = self._settle_batched()
        else:
            self.settle_overdue()
        self._rearm()
        return settling

    def _settle_batched(self) -> Awaitable[None] | None:
        """The due tasks' settles, in chunks (`_settling` until they are written: `_commit_due`)."""
        due, now, ids = self._due, self.clock.now(), []
        while due and due[0][0] <= now:
            ids.append(heapq.heappop(due)[1])
        if not ids:
            return None
        self._settling.update(ids)
        return self._commit_due(ids)

    async def _commit_due(self, ids: list[str]) -> None:
        """Settle the tasks `ids` (in `_settling` until they are written), read and settled a chunk at a time."""
        resets = self._resets
        done = asyncio.get_running_loop().create_future()  # what `settle_all_due` waits for, not writing them twice
        self._commits.add(done)
        try:
            async for chunk in self._chunks(ids):
                if self.batched is not None:
                    found = await self.batched.get_many_async(chunk)
                else:
                    found = [self.store.get(task_id) for task_id in chunk]
                await self._settle_found(found, resets)
        finally:  # on a failure (Redis gone) a poll or the peers' due sweep settles them later
            self._settling.difference_update(ids)
            self._commits.discard(done)
            if not done.done():
                done.set_result(None)

    async def settle_swept(self, found: list[Prediction], resets: int | None = None) -> None:
        """Settle tasks the shared store's due sweep found, whichever process created them (`peers`), a chunk at
        a time: one commit each on the loop held it for ~300 ms per 1,000 tasks (2026-12-07, Redis). A commit is
        conditional, so a task another process settled meanwhile stays as it settled. `resets`: the count read
        before the sweep read the store (after a reset since, nothing is written: the tasks are gone)."""
        resets = self._resets if resets is None else resets
        async for chunk in self._chunks(found):
            await self._settle_found(chunk, resets)

    async def _chunks(self, items: Sequence[T]) -> AsyncIterator[Sequence[T]]:
        """`items` SETTLE_CHUNK at a time (SETTLE_CHUNK_SYNC where each settle is a transaction of its own), the
        event loop turned between two chunks so that other requests are answered."""
        size = SETTLE_CHUNK if self.batched is not None else SETTLE_CHUNK_SYNC
        for start in range(0, len(items), size):
            if start:
                await delay(0)
            yield items[start : start + size]

    async def _settle_found(self, found: Sequence[Prediction | None], resets: int) -> None:
        """Settle those of `found` (tasks as read) that are due, unless a reset came since `resets` was read: on
        Redis in one batch of commits, elsewhere one commit each."""
        if resets != self._resets:
            return
        if self.batched is None:
            for p in found:
                if p is not None and p.status is Status.PROCESSING:
                    self._settle(p)
            return
        now, todo = self.clock.now(), []
        for p in found:
            if p is None or p.status is not Status.PROCESSING:
                continue
            settled = lifecycle.settle(p, now)
            if settled is not p:
                todo.append((settled, self._charge(settled), self._prepare(settled, str(settled.status))))
        if not todo:
            return
        wrote = await self.batched.commit_many_async([(p, charge, _records(items)) for p, charge, items in todo])
        for (settled, _, items), written in zip(todo, wrote, strict=True):
            if written:  # else another process (or a poll here) settled it first, and fired its events
                self._accept(items)
                self._fire(settled, str(settled.status))

    @property
    def resets(self) -> int:
        """How many resets so far (a sweep reads it before it reads the store: `settle_swept`)."""
        return self._resets

    def _rearm(self) -> None:
        due = self._due
        if due and self._wake is None:
            when = due[0][0]
            if self._batch:
                when = max(when, self.clock.now() + self._batch)
            self._wake = self.scheduler.call_at(when, self._run_due)

    def _settle_by_id(self, task_id: str) -> None:
        p = self.store.get(task_id)
        if p is not None and p.status is Status.PROCESSING:
            self._settle(p)

    def _settle(self, p: Prediction) -> Prediction:
        settled = lifecycle.settle(p, self.clock.now())
        if settled is p:
            return p
        items = self._prepare(settled, str(settled.status))
        if not self.store.commit(settled, charge=self._charge(settled), outbox=_records(items)):
            return self.store.get(p.task_id) or settled  # another process settled it first
        self._accept(items)
        self._fire(settled, str(settled.status))
        return settled

    @staticmethod
    def _charge(settled: Prediction) -> float:
        return settled.usage.cost if settled.status is Status.SUCCESS and settled.usage is not None else 0.0

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


def _records(items: Sequence[OutboxItem]) -> list[OutboxRecord]:
    return [(item.delivery_id, item.to_stored()) for item in items]


_SCALARS = (str, int, float, bool, type(None))
_PROCESSING: str = Status.PROCESSING.value  # (an enum member's .value is a descriptor call)


@functools.lru_cache(maxsize=1024)
def _input_for(items: tuple[tuple[str, type, Any], ...]) -> dict[str, Any]:
    return {k: v for k, _, v in items}  # the type is part of the key: 1, 1.0 and True are equal, not the same


def _shared_input(value: dict[str, Any]) -> dict[str, Any]:
    """One dict per distinct small all-scalar input (a task's input is never mutated).

    Load tests send the same few bodies many times: sharing their parsed `input` saved ~290 of ~1,000
    bytes per live task (tracemalloc, 10,000 creates of one body), which is what keeps 100,000 live
    tasks under 150 MB. Inputs with nested values or more than 16 fields are kept as they came.
    """
    if len(value) > 16:
        return value
    items = []
    for k, v in value.items():  # a loop, not all(genexpr) and tuple(genexpr): no generators per create
        if not isinstance(v, _SCALARS):
            return value
        items.append((k, type(v), v))
    try:
        return _input_for(tuple(items))
    except TypeError:  # pragma: no cover - scalars are hashable
        return value
