"""The harness's rule table: every statement it enforces, as data, and the statements it does not, with why.

One `Rule` per sentence of the sources (`../shared/api/NOTES.md`, the model pages, `DECISIONS.md`): the
sentence, where it comes from (a DECISIONS row makes it an assumption), the function that checks it, its
cost against a paid API and the operations it applies to. The CLI (`shuyou-contracts rules`, `--dry-run`),
the pytest suite (one test per rule), the report and docs/contract-harness.md all read this table; the
broken-variant tests in tests/contracts are parametrized over it. `NOT_CHECKED` lists the observable
statements of the same sources that no rule enforces, each with the reason. Pure data and pure functions.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ALL_OPS",
    "BY_ID",
    "IDS",
    "LIFECYCLE_CREATES",
    "NOT_CHECKED",
    "PHASES",
    "RULES",
    "SCHEMATHESIS_CHECKS",
    "SCHEMATHESIS_PHASES",
    "Family",
    "Needs",
    "NotChecked",
    "Plan",
    "Rule",
    "partial_reason",
    "render_not_checked",
    "render_table",
    "skip_reason",
    "skipped",
]

SCHEMATHESIS_PHASES = ("examples", "coverage", "fuzzing", "stateful")
PHASES = (*SCHEMATHESIS_PHASES, "lifecycle")

CREATE, GET, CREDITS, WEBHOOK = "createPrediction", "getPrediction", "getCredits", "webhook:predictionFinished"
ALL_OPS = (CREATE, GET, CREDITS)


class Family(enum.StrEnum):
    """Where a rule is checked."""

    EXCHANGE = "exchange"  # contracts.checks, on every exchange of every phase
    SCHEMATHESIS = "schemathesis"  # a schemathesis built-in check, in its phases
    LIFECYCLE = "lifecycle"  # contracts.polling, on the tasks it creates and polls
    WEBHOOK = "webhook"  # contracts.deliveries, on what the receiver recorded
    RESULTS = "results"  # contracts.results, on the result files of the lifecycle's tasks
    CREDITS = "credits"  # contracts.credits, /v1/credits before and after the lifecycle


class Needs(enum.StrEnum):
    """What a rule needs beyond the phases that run it."""

    TASK = "a created task"  # at least one billable create that the target accepts
    RECEIVER = "a webhook receiver"  # a loopback target, or --webhook-url forwarding to the local receiver
    SECRET = "--webhook-secret"
    OTHER_KEY = "a second key"  # --other-api-key (derived against our mock)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    sentence: str
    source: str
    check: str  # "module:function" that enforces it (a test resolves every one)
    family: Family
    operations: tuple[str, ...]
    billable: int = 0  # billable calls the rule needs to run at all (0: free); shared with other rules
    needs: tuple[Needs, ...] = ()
    only_when: str = ""  # a condition on the request, said when the rule was not exercised

    @property
    def assumption(self) -> bool:
        """Whether the sentence is one of our guesses (a DECISIONS row) rather than ShuYou's documentation."""
        return self.source.startswith("DECISIONS") or "x-assumption" in self.source

    @property
    def phases(self) -> tuple[str, ...]:
        if self.family is Family.EXCHANGE:
            return PHASES
        if self.family is Family.SCHEMATHESIS:
            return SCHEMATHESIS_PHASES
        return ("lifecycle",)

    @property
    def cost(self) -> str:
        return "free" if self.billable == 0 else f"{self.billable} billable call(s)"


@dataclass(frozen=True, slots=True)
class NotChecked:
    statement: str
    source: str
    reason: str


_C = "contracts.checks"
_L = "contracts.polling"
_D = "contracts.deliveries"
LIFECYCLE_CREATES = 3  # one seeded model per function (image, video, audio); see lifecycle.sample_models

RULES: tuple[Rule, ...] = (
    # -- every exchange ---------------------------------------------------------------------------------------
    Rule("envelope", "A 2xx body is the documented envelope of its operation (JSON, valid per the spec).",
         "Create Prediction, Get Prediction, Get Credits: response schemas (NOTES §1.1, §1.2, §5)",
         f"{_C}:_check_success_body", Family.EXCHANGE, ALL_OPS),
    Rule("task_status", "data.task_status is one of processing, success, failed (cancelled is ours).",
         "Get Prediction: data.task_status (NOTES §1.3)", f"{_C}:_check_success_body", Family.EXCHANGE,
         (CREATE, GET), billable=1, needs=(Needs.TASK,)),
    Rule("task_id_format", "data.task_id is 32 lowercase hex characters.", "DECISIONS 1",
         f"{_C}:_check_success_body", Family.EXCHANGE, (CREATE, GET), billable=1, needs=(Needs.TASK,)),
    Rule("request_id_format", "request_id is 32 lowercase hex characters.",
         "Get Prediction: request_id, 32 hex in the example (NOTES §1.2); the format is our x-assumption",
         f"{_C}:_check_success_body", Family.EXCHANGE, (GET,), billable=1, needs=(Needs.TASK,)),
    Rule("request_id_header", "Every response carries an X-ShuYou-RequestId header.", "DECISIONS 1",
         f"{_C}:_check_header", Family.EXCHANGE, ALL_OPS),
    Rule("output", "Each output item has the shape of its type (image: an `image` URL; video, audio: ours).",
         "Get Prediction: data.output[] (NOTES §4; DECISIONS 4 for video and audio)", f"{_C}:_check_success_body",
         Family.EXCHANGE, (GET,), billable=1, needs=(Needs.TASK,)),
    Rule("output_only_on_success", "output is present when, and only when, the task succeeded.",
         "Get Prediction: data.output, 'present when the task succeeded' (NOTES §1.2)",
         f"{_C}:check_prediction_body", Family.EXCHANGE, (GET,), billable=1, needs=(Needs.TASK,)),
    Rule("output_matches_function", "Output items are of the created model's function (image, video, audio).",
         "Create Prediction: function 'must match the model's kind' (NOTES §1.1)", f"{_C}:check_prediction_body",
         Family.EXCHANGE, (GET,), billable=1, needs=(Needs.TASK,)),
    Rule("usage_arithmetic", "usage.cost = upstream_cost x discount_percent and discount = upstream_cost - cost.",
         "Get Prediction: usage (NOTES §1.2, the example's arithmetic)", f"{_C}:_check_usage", Family.EXCHANGE,
         (GET,), billable=1, needs=(Needs.TASK,)),
    Rule("usage_on_success", "A succeeded task carries usage (what it was billed).", "DECISIONS 5",
         f"{_C}:check_prediction_body", Family.EXCHANGE, (GET,), billable=1, needs=(Needs.TASK,)),
    Rule("failed_task_body", "A failed task carries data.error and no usage (nothing billed).", "DECISIONS 3",
         f"{_C}:check_prediction_body", Family.EXCHANGE, (GET,), billable=1, needs=(Needs.TASK,)),
    Rule("terminal_sticky", "A terminal status never changes.",
         "Get Prediction: success and failed are terminal (NOTES §1.3; DECISIONS 2)", f"{_C}:check_prediction_body",
         Family.EXCHANGE, (GET,), billable=1, needs=(Needs.TASK,)),
    Rule("created_processing", "A created task is `processing`.",
         "Create Prediction: 200 response, 'at creation it is always processing' (NOTES §1.1)",
         f"{_C}:_check_created", Family.EXCHANGE, (CREATE,), billable=1, needs=(Needs.TASK,)),
    Rule("task_id_matches", "Get Prediction answers for the task asked for: data.task_id is the path's id.",
         "Get Prediction: prediction_id = data.task_id (NOTES §1.2)", f"{_C}:check_prediction_body",
         Family.EXCHANGE, (GET,), billable=1, needs=(Needs.TASK,)),
    Rule("credits_balance", "balance = total_credits - total_usage.", "Get Credits: data.balance (NOTES §5)",
         f"{_C}:_check_credits", Family.EXCHANGE, (CREDITS,)),
    Rule("error_envelope", "Every error is {error: {code, type, message}} with code the HTTP status as a string.",
         "API Error Codes Reference (NOTES §6)", f"{_C}:_check_error", Family.EXCHANGE, ALL_OPS),
    Rule("error_type", "error.type is one the docs give for that status.", "API Error Codes Reference (NOTES §6)",
         f"{_C}:_check_error", Family.EXCHANGE, ALL_OPS),
    Rule("undocumented_status", "Every status is one the operation documents.",
         "Create/Get Prediction, Get Credits: responses (NOTES §1.1, §1.2, §5)", f"{_C}:_check_error",
         Family.EXCHANGE, ALL_OPS),
    # -- schemathesis built-ins -------------------------------------------------------------------------------
    Rule("not_a_server_error", "A request the spec allows never gets a 5xx.",
         "API Error Codes Reference: 500 is a platform error (NOTES §6)", "schemathesis:not_a_server_error",
         Family.SCHEMATHESIS, ALL_OPS),
    Rule("content_type_conformance", "A response's Content-Type is the one its operation documents.",
         "Create/Get Prediction, Get Credits: response content (NOTES §1)", "schemathesis:content_type_conformance",
         Family.SCHEMATHESIS, ALL_OPS),
    Rule("negative_data_rejection", "A request the spec forbids is rejected with a documented 4xx.",
         "Model pages: input schemas; Create Prediction: 400 (NOTES §3; DECISIONS 7, 10, 11)",
         "schemathesis:negative_data_rejection", Family.SCHEMATHESIS, (CREATE, GET)),
    Rule("positive_data_acceptance", "A request the spec allows is accepted.",
         "Model pages: input schemas (NOTES §3; DECISIONS 15, 16)", "schemathesis:positive_data_acceptance",
         Family.SCHEMATHESIS, ALL_OPS, billable=1),
    # -- lifecycle --------------------------------------------------------------------------------------------
    Rule("lifecycle_create", "Each model's documented example request is accepted (200).",
         "Create Prediction and model pages: request examples (NOTES §1.1, §3)", f"{_L}:Lifecycle._create",
         Family.LIFECYCLE, (CREATE,), billable=LIFECYCLE_CREATES, needs=(Needs.TASK,)),
    Rule("lifecycle_timeout", "A task reaches a terminal status within the poll timeout (--timeout, 300 s).",
         "DECISIONS 17 ('tens of seconds to several minutes', NOTES §1.4)", f"{_L}:Lifecycle.run",
         Family.LIFECYCLE, (GET,), billable=1, needs=(Needs.TASK,)),
    Rule("unknown_task", "An unknown task id answers 404.", "Get Prediction: 404 Prediction not found (NOTES §1.2)",
         f"{_L}:Lifecycle._unknown_task", Family.LIFECYCLE, (GET,)),
    Rule("auth_required", "A request without a key is refused with 401 or 403.",
         "Create/Get Prediction, Get Credits: 401; error guide: 403 access_denied (NOTES §6; DECISIONS 9)",
         f"{_L}:Lifecycle._without_key", Family.LIFECYCLE, (GET, CREDITS)),
    Rule("tenant_isolation", "A task created with one key is invisible to another key.",
         "Authentication: a key is an account (NOTES §0); 404 for another key's task per DECISIONS 12",
         f"{_L}:Lifecycle._cross_key", Family.LIFECYCLE, (GET,), billable=1, needs=(Needs.TASK, Needs.OTHER_KEY)),
    # -- results ----------------------------------------------------------------------------------------------
    Rule("result_download", "Every result URL downloads (200) while the task is fresh.",
         "Get Prediction: data.output[].image, an image URL (NOTES §1.2; DECISIONS 4 for video and audio)",
         "contracts.results:check_results", Family.RESULTS, (GET,), billable=1, needs=(Needs.TASK,)),
    Rule("result_media", "A result file decodes as the media its item claims (image, MP4 video, audio).",
         "Get Prediction: output[].type (NOTES §1.2, §4)", "contracts.media:media_error", Family.RESULTS, (GET,),
         billable=LIFECYCLE_CREATES, needs=(Needs.TASK,)),
    Rule("output_count", "An image task asked for n (else num_images) images returns that many, when one was given.",
         "gpt-image-2 page: n 1-10, wins over num_images; Gemini pages: num_images (NOTES §3.1, §4: one item per "
         "image)", "contracts.results:_check_count", Family.RESULTS, (GET,), billable=1, needs=(Needs.TASK,),
         only_when="the lifecycle's image example asks for no n or num_images (choose one with --models)"),
    Rule("result_format", "An image or audio file is in the output_format (speech-2.8-hd: format) asked for, when "
         "one was given.", "Model pages: output_format png/jpeg/webp, mp3/wav/ogg_opus, format (NOTES §3)",
         "contracts.results:_check_format", Family.RESULTS, (GET,), billable=1, needs=(Needs.TASK,),
         only_when="no lifecycle example asks for an output_format (choose one with --models)"),
    Rule("result_duration", "A video lasts the input.duration it was asked for (within 0.5 s), when one was given.",
         "Video model pages: input.duration in seconds (NOTES §3.2)", "contracts.results:_check_duration",
         Family.RESULTS, (GET,), billable=1, needs=(Needs.TASK,),
         only_when="the lifecycle's video example asks for no duration (choose one with --models)"),
    # -- credits ----------------------------------------------------------------------------------------------
    Rule("credits_billed", "total_usage grows by the usage.cost of each succeeded task, and by nothing else.",
         "DECISIONS 13 (Get Credits, NOTES §5)", "contracts.credits:check_billing", Family.CREDITS,
         (CREDITS,), billable=1, needs=(Needs.TASK,)),
    # -- webhooks ---------------------------------------------------------------------------------------------
    Rule("webhook_delivery", "Each terminal task is delivered to its webhook exactly once.",
         "Model pages: the webhook fires 'when the task completes, fails, or is cancelled' (NOTES §2; DECISIONS 6)",
         f"{_D}:_check", Family.WEBHOOK, (WEBHOOK,), billable=1, needs=(Needs.TASK, Needs.RECEIVER)),
    Rule("webhook_signature", "A delivery is signed with Standard Webhooks (webhook-id, -timestamp, -signature).",
         "DECISIONS 6", f"{_D}:_check", Family.WEBHOOK, (WEBHOOK,), billable=1,
         needs=(Needs.TASK, Needs.RECEIVER, Needs.SECRET)),
    Rule("webhook_body", "A delivery's body is valid per the webhook schema.", "DECISIONS 6", f"{_D}:_check",
         Family.WEBHOOK, (WEBHOOK,), billable=1, needs=(Needs.TASK, Needs.RECEIVER)),
    Rule("webhook_state", "A delivery's body equals the task's final Get Prediction body (request_id aside).",
         "DECISIONS 6; correlation by data.task_id (NOTES §2)", f"{_D}:_compare", Family.WEBHOOK, (WEBHOOK,),
         billable=1, needs=(Needs.TASK, Needs.RECEIVER)),
)  # fmt: skip

NOT_CHECKED: tuple[NotChecked, ...] = (
    NotChecked("The other endpoints (files, models, chat, generation, ...) behave as documented.", "NOTES §0",
               "outside the Predictions API the spec describes"),
    NotChecked("The key may also be sent as x-api-key or x-goog-api-key.", "NOTES §0, error guide",
               "the prediction pages document Bearer only; the spec follows them"),
    NotChecked("Unsupported input fields 'may be ignored or return a parameter error'.", "NOTES §1.1; DECISIONS 16",
               "either answer is allowed, so there is nothing to fail"),
    NotChecked("Result URLs are valid for 24 hours, then expire.", "Gemini image pages (NOTES §3.1, §5); DECISIONS 4",
               "would need 24 h of waiting against the real API; the mock's expiry is tested in tests/live"),
    NotChecked("A `pcm` result is raw samples in the asked format.", "speech-2.8-hd page",
               "raw PCM has no container a decoder could recognise"),
    NotChecked("aspect_ratio and resolution shape the pixels.", "Model pages",
               "the docs give no pixel sizes per tier and allow cropping"),
    NotChecked("A video asked for without a duration lasts the model's default.", "Video model pages",
               "would restate each page's default in Python; result_duration checks an explicit duration"),
    NotChecked("watermark, generate_audio and the voice change the rendered media.", "Model pages (NOTES §3)",
               "needs a look at pixels and audio, not a contract a decoder can check"),
    NotChecked("Input media URLs must be reachable, within size and type limits.", "Model pages; DECISIONS 18",
               "needs public URLs the target can fetch; the count limits are checked by the schema phases"),
    NotChecked("A task can be cancelled (webhook fires on cancel).", "Model pages (NOTES §1.3); DECISIONS 2",
               "no public cancel endpoint is documented"),
    NotChecked("Webhooks are retried with backoff, honouring Retry-After, with the same webhook-id.", "DECISIONS 6",
               "needs a receiver that refuses on purpose and the target's retry schedule (minutes); the mock's "
               "retries are tested in tests/live"),
    NotChecked("Webhooks reach only allowed hosts; input URLs are never fetched.", "DECISIONS 7, 18",
               "mock-only behaviour (its own tests cover it), not a contract of the real API"),
    NotChecked("Do not point the webhook at untrusted addresses; verify the origin.", "NOTES §2",
               "advice to the client, not behaviour of the API"),
    NotChecked("A 429 carries Retry-After; limits depend on the plan.", "NOTES §5; DECISIONS 14",
               "a 429 happens only under load: provoking one would cost a burst of billable calls"),
    NotChecked("A create with no credit left answers 402 insufficient_credit.", "NOTES §6; DECISIONS 13",
               "needs an account with no credit left"),
    NotChecked("Validation messages name the offending field (JSON path).", "DECISIONS 8",
               "schemathesis's negative cases do not say which field they broke"),
    NotChecked("Retryable statuses are 429, 500, 502, 503, 504; back off 1, 2, 4, 8 s.", "NOTES §6",
               "advice to the client, not behaviour of the API"),
    NotChecked("A provider timeout answers 524 provider_internal_server_error.", "NOTES §5, §6",
               "cannot be provoked from outside"),
    NotChecked("Task records stay queryable for some time.", "NOTES open question 9",
               "no time is documented"),
    NotChecked("gpt-image-2: `n` wins over `num_images`, `size` over `aspect_ratio`; `resolution` is case-insensitive "
               "and ignored for explicit `size`.", "gpt-image-2 page",
               "the pixels are not checked (see below); output_count checks the n-over-num_images precedence"),
    NotChecked("A mask must match the reference image's dimensions; at most 4 real-person images.",
               "gpt-image-2, Nano Banana 2 and Pro pages", "needs real reference images the target can fetch"),
    NotChecked("Seedance: only 16:9 and 9:16 work at runtime; other values 'may be rejected'.",
               "doubao-seedance-2.0(-fast) pages", "either answer is allowed"),
    NotChecked("Without first_frame_url a video is generated from text only.", "Video model pages",
               "not observable in the file without looking at frames"),
)  # fmt: skip

BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
IDS: tuple[str, ...] = tuple(BY_ID)
SCHEMATHESIS_CHECKS: tuple[str, ...] = tuple(rule.id for rule in RULES if rule.family is Family.SCHEMATHESIS)


@dataclass(frozen=True, slots=True)
class Plan:
    """What a run will have: the facts that decide whether each rule can run."""

    phases: tuple[str, ...]
    budget: int | None  # None: unlimited
    receiver: bool
    secret: bool
    other_key: bool


def skip_reason(rule: Rule, plan: Plan) -> str | None:
    """Why `rule` cannot run under `plan`, in one line, or None when it can."""
    if not set(rule.phases) & set(plan.phases):
        return f"phase(s) {', '.join(rule.phases)} not selected (--phases)"
    if plan.budget == 0 and rule.billable > 0:
        return "needs at least 1 billable call (a created task), the budget is 0 (--budget)"
    if Needs.RECEIVER in rule.needs and not plan.receiver:
        return "needs a webhook receiver: the target is not on loopback; pass --webhook-url"
    if Needs.SECRET in rule.needs and not plan.secret:
        return "needs --webhook-secret to verify signatures"
    if Needs.OTHER_KEY in rule.needs and not plan.other_key:
        return "needs a second key: pass --other-api-key"
    return None


def partial_reason(rule: Rule, plan: Plan) -> str | None:
    """Why `rule` will run on less than it needs for full coverage (a budget below its cost), or None."""
    if skip_reason(rule, plan) is None and plan.budget is not None and 0 < plan.budget < rule.billable:
        return f"needs {rule.billable} billable call(s) for full coverage, the budget is {plan.budget} (--budget)"
    return None


def skipped(plan: Plan, rules: Iterable[Rule] = RULES) -> dict[str, str]:
    return {rule.id: reason for rule in rules if (reason := skip_reason(rule, plan)) is not None}


def render_table(rules: Iterable[Rule] = RULES) -> str:
    """The table as Markdown (the CLI's `rules` and docs/contract-harness.md print this)."""
    lines = ["| Rule | Checks | Source | Kind | Cost | Operations | Enforced by |", "|---|---|---|---|---|---|---|"]
    for rule in rules:
        kind = "assumption" if rule.assumption else "documented"
        ops = ", ".join(rule.operations)
        lines.append(
            f"| `{rule.id}` | {rule.sentence} | {rule.source} | {kind} | {rule.cost} | {ops} | `{rule.check}` |"
        )
    return "\n".join(lines)


def render_not_checked(items: Iterable[NotChecked] = NOT_CHECKED) -> str:
    lines = ["| Statement | Source | Why not checked |", "|---|---|---|"]
    lines.extend(f"| {item.statement} | {item.source} | {item.reason} |" for item in items)
    return "\n".join(lines)
