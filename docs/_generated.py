"""What the page generators share: rewrite a generated page, or with `--check` say whether it is current."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def regenerate(target: Path, render: Callable[[], str], *, script: str, argv: list[str] | None = None) -> int:
    """The `main()` of a generator script: write `render()` to `target`, or compare with `--check` (exit 1 if stale)."""
    parser = argparse.ArgumentParser(description=f"Generate {target.relative_to(ROOT)}.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not current; write nothing")
    args = parser.parse_args(argv)
    text = render()
    name = target.relative_to(ROOT)
    if args.check:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print(f"{name} is stale: run `python {script}`", file=sys.stderr)
            return 1
        print(f"{name} is current")
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {name}")
    return 0
