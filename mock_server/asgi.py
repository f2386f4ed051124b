"""`uvicorn mock_server.asgi:app`: the mock configured from MOCK_* variables (MOCK_CONFIG for a YAML file)."""

from __future__ import annotations

import os

from mock_server.app import create_app
from mock_server.config import load_settings

app = create_app(load_settings(os.environ))
