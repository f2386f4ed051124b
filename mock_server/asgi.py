"""`uvicorn mock_server.asgi:app`: the mock configured from MOCK_* variables (MOCK_CONFIG for a YAML file).

With MOCK_WATCH=1 the app watches MOCK_CONFIG's file (`serve --watch`); `serve --workers N --watch` sets it, so
every worker reloads the file itself.
"""

from __future__ import annotations

import os
from typing import Any

from mock_server.app import create_app
from mock_server.config import load_settings

settings = load_settings(os.environ)
app: Any = create_app(settings)
if os.environ.get("MOCK_WATCH", "").strip().lower() in ("1", "true", "yes", "on"):  # watch.WATCH_VARIABLE
    from mock_server.watch import watched

    app = watched(app, settings, os.environ)
