"""The module the container runs: ``uvicorn oauth_app.main:app`` (configuration from the
environment; see :class:`oauth_app.config.AppConfig`)."""

from __future__ import annotations

import logging

from .app import create_app
from .config import AppConfig

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

app = create_app(AppConfig())
