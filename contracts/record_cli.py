"""`shuyou-contracts record ...`: its flags and its entry point (the plan itself is `contracts.record`)."""

from __future__ import annotations

import dataclasses
import random
import sys
from pathlib import Path
from typing import Any

from contracts.polling import sample_models
from contracts.record import RecordOptions, plan_text, record
from contracts.spec import load
from contracts.target import ENV_MOCK_TOKEN, TargetUnreachable

__all__ = ["add_record_command"]


def add_record_command(commands: Any) -> None:
    """`shuyou-contracts record ...` on the CLI's subparsers."""
    sub = commands.add_parser("record", help="record a budgeted plan against a target into a cassette")
    sub.add_argument("--base-url", required=True, help="e.g. https://api.shuyou.ai or http://127.0.0.1:8000")
    sub.add_argument("--api-key", help="bearer key (default: $SHUYOU_API_KEY); never written to the cassette")
    sub.add_argument(
        "--budget", type=int, help="most billable createPrediction calls (default as `run`: 5, mock: none)"
    )
    sub.add_argument("--out", type=Path, required=True, help="the cassette to write (JSON Lines)")
    sub.add_argument("--dry-run", action="store_true", help="print the plan and send nothing")
    sub.add_argument("--with-files", action="store_true", help="keep the bytes of result files (base64)")
    sub.add_argument("--models", default="", help="models to create, comma-separated (default: one per function)")
    sub.add_argument("--seed", type=int, help="seed of the model sampling")
    sub.add_argument("--timeout", type=float, default=300.0, help="seconds to poll a task (default 300)")
    sub.add_argument("--request-timeout", type=float, default=30.0, help="seconds per HTTP request (default 30)")
    sub.add_argument("--mock-token", help="our mock's admin token for its /_mock surface (default: $SHUYOU_MOCK_TOKEN)")
    sub.set_defaults(handler=_main)


def _main(parser: Any, args: Any, environ: Any) -> int:
    api_key = args.api_key or environ.get("SHUYOU_API_KEY", "")
    if args.budget is not None and args.budget < 0:
        parser.error(f"--budget {args.budget}: expected an integer >= 0")
    if not api_key and not args.dry_run:
        parser.error("--api-key is required (or set $SHUYOU_API_KEY)")
    options = RecordOptions(
        base_url=args.base_url,
        api_key=api_key,
        out=args.out,
        budget=args.budget,
        dry_run=args.dry_run,
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
        seed=args.seed,
        with_files=args.with_files,
        timeout=args.timeout,
        request_timeout=args.request_timeout,
        mock_token=args.mock_token or environ.get(ENV_MOCK_TOKEN) or None,
    )
    spec = load()
    seed = options.seed if options.seed is not None else random.randrange(2**32)
    try:
        models = sample_models(spec, list(options.models) or None, seed)
    except ValueError as exc:
        print(f"shuyou-contracts: error: {exc}", file=sys.stderr)
        return 2
    options = dataclasses.replace(options, seed=seed)
    if options.dry_run:
        print(plan_text(options, models))
        return 0
    try:
        result = record(options, progress=lambda line: print(line, file=sys.stderr, flush=True))
    except TargetUnreachable as exc:
        print(f"shuyou-contracts: error: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0
