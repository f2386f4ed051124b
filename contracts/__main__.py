from __future__ import annotations

import sys

from contracts.cli import main

__all__ = []

sys.exit(main())
