"""`python -m contracts run` / `shuyou-contracts run`: check a ShuYou endpoint, mock or real, against the spec.

Exit status: 0 no (failing) findings, 1 findings, 2 usage or connection error.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from contracts.runner import ALL_PHASES, Options
from contracts.target import ENV_MOCK_TOKEN

__all__ = ["ENV_API_KEY", "execute", "main"]

ENV_API_KEY = "SHUYOU_API_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shuyou-contracts", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rules = commands.add_parser("rules", help="print the rule table (and what is not checked, and why)")
    rules.add_argument("--format", choices=("markdown", "ids"), default="markdown", help="default markdown")
    run = commands.add_parser("run", help="run the contract checks against a base URL")
    run.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8000 or https://api.shuyou.ai")
    run.add_argument("--api-key", help=f"bearer key (default: ${ENV_API_KEY})")
    run.add_argument(
        "--budget",
        type=_non_negative,
        help="most billable createPrediction calls the target may "
        "accept (default: unlimited against our mock, 5 against anything else)",
    )
    run.add_argument("--dry-run", action="store_true", help="print the plan and send nothing")
    run.add_argument("--seed", type=int, help="seed for generation and model sampling (printed to reproduce)")
    run.add_argument("--max-examples", type=_positive, default=10, help="per operation and phase (default 10)")
    run.add_argument(
        "--phases",
        type=_phases,
        default=ALL_PHASES,
        help=f"comma-separated subset of {','.join(ALL_PHASES)} (default: all)",
    )
    run.add_argument(
        "--models",
        type=_csv,
        default=(),
        help="lifecycle models, comma-separated (default: one seeded pick per function)",
    )
    run.add_argument("--junit", type=Path, help="write a JUnit XML report")
    run.add_argument("--report", type=Path, help="write a JSON report")
    run.add_argument("--webhook-url", help="public URL that forwards to the local receiver (real targets)")
    run.add_argument("--webhook-secret", help="whsec_... to verify Standard Webhooks signatures")
    run.add_argument("--receiver-port", type=_non_negative, default=0, help="port of the local webhook receiver")
    run.add_argument(
        "--other-api-key",
        help="a second key, to check that tasks are invisible across keys (default against our mock: a derived key)",
    )
    run.add_argument("--timeout", type=float, default=300.0, help="seconds to poll a task (default 300)")
    run.add_argument("--request-timeout", type=float, default=30.0, help="seconds per HTTP request (default 30)")
    run.add_argument("--rate-limit", help="cap schemathesis' request rate, e.g. 10/s or 100/m (kind to real targets)")
    run.add_argument("--workers", type=_positive, default=1, help="concurrent schemathesis workers (default 1)")
    run.add_argument("--strict", action="store_true", help="differences from x-assumption elements fail too")
    run.add_argument(
        "--mock-token", help=f"our mock's admin token for its /_mock surface off loopback (default: ${ENV_MOCK_TOKEN})"
    )
    from contracts.drift_cli import add_drift_command
    from contracts.receiver import add_receive_command
    from contracts.record_cli import add_record_command

    add_record_command(commands)
    add_drift_command(commands)
    add_receive_command(commands)
    return parser


def _print_rules(form: str) -> int:
    from contracts.rules import IDS, render_not_checked, render_table

    if form == "ids":
        print("\n".join(IDS))
        return 0
    print(f"Rules ({len(IDS)}):\n\n{render_table()}\n\nNot checked, and why:\n\n{render_not_checked()}")
    return 0


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r}: expected an integer >= 0")
    return number


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected an integer >= 1")
    return number


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _phases(value: str) -> tuple[str, ...]:
    phases = _csv(value)
    unknown = [phase for phase in phases if phase not in ALL_PHASES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown phase(s) {unknown}; choose from {','.join(ALL_PHASES)}")
    return phases


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of `shuyou-contracts`; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    parser = _parser()
    args = parser.parse_args(args_list)
    if getattr(args, "handler", None) is not None:  # record, drift, receive: their modules own their flags
        return int(args.handler(parser, args, environ))
    if args.command == "rules":
        return _print_rules(args.format)
    api_key = args.api_key or environ.get(ENV_API_KEY, "")
    if not api_key and not args.dry_run:
        parser.error(f"--api-key is required (or set ${ENV_API_KEY})")
    options = Options(
        base_url=args.base_url,
        api_key=api_key,
        budget=args.budget,
        dry_run=args.dry_run,
        seed=args.seed,
        max_examples=args.max_examples,
        phases=args.phases,
        models=args.models,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        receiver_port=args.receiver_port,
        timeout=args.timeout,
        request_timeout=args.request_timeout,
        strict=args.strict,
        other_api_key=args.other_api_key,
        rate_limit=args.rate_limit,
        workers=args.workers,
        mock_token=args.mock_token or environ.get(ENV_MOCK_TOKEN) or None,
    )
    return execute(options, args_list, junit=args.junit, report=args.report)


def execute(options: Options, argv: list[str], *, junit: Path | None = None, report: Path | None = None) -> int:
    import dataclasses
    import random

    from contracts.polling import sample_models
    from contracts.spec import load
    from contracts.target import TargetUnreachable

    spec = load()
    seed = options.seed if options.seed is not None else random.randrange(2**32)
    try:
        models = sample_models(spec, list(options.models) or None, seed) if "lifecycle" in options.phases else []
    except ValueError as exc:
        print(f"shuyou-contracts: error: {exc}", file=sys.stderr)
        return 2
    command = _reproduce(argv, seed)
    options = dataclasses.replace(options, seed=seed, command=command)
    if options.dry_run:
        from contracts.runner import plan_text

        print(plan_text(options, spec, models, seed))
        return 0
    from contracts.report import render_summary, write_json, write_junit
    from contracts.runner import run

    try:
        result = run(options)
    except TargetUnreachable as exc:
        print(f"shuyou-contracts: error: {exc}", file=sys.stderr)
        return 2
    print(render_summary(result))
    if report is not None:
        write_json(result, report)
    if junit is not None:
        write_junit(result, junit)
    return result.exit_code


def _reproduce(argv: list[str], seed: int) -> str:
    # Never echo a secret: the reproduction line is printed and written to reports.
    secret = {"--api-key", "--webhook-secret", "--other-api-key"}
    out, skip = ["python", "-m", "contracts"], False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in secret | {"--seed"}:
            skip = "=" not in arg and index + 1 < len(argv)
            if name in secret:
                out.extend([name, "..."])
            continue
        out.append(arg)
    return shlex.join([*out, "--seed", str(seed)])
