"""The per-request dispatch of moto's server, done once instead of on every request.

In moto 5.2.5 every request looked its service up by listing moto's package folder and
matching some four hundred URL patterns, under one lock all requests share; the answer is now
remembered per host. And each request listed its handler class's methods (``inspect``); they
are now listed once per class.
"""

from __future__ import annotations

from typing import Any

from moto.core import responses as core_responses
from moto.moto_server import werkzeug_app

from .patch import Patch

_BACKEND_CACHE_SIZE = 1024


def _wrap_backend_for_host(original: Any) -> Any:
    found: dict[str | None, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host in found:
            return found[host]
        backend = original(self, host)
        if backend and len(found) < _BACKEND_CACHE_SIZE:  # misses print a hint each time, as before
            found[host] = backend
        return backend

    return get_backend_for_host


def _cached_method_names(original: Any) -> Any:
    names: dict[type, list[str]] = {}

    def method_names_from_class(clazz: type) -> list[str]:
        if clazz not in names:
            names[clazz] = original(clazz)
        return names[clazz]

    return method_names_from_class


PATCHES = (
    Patch(
        werkzeug_app.DomainDispatcherApplication,
        "get_backend_for_host",
        "the service of a request is remembered per host (each request listed moto's folder)",
        wrapper=_wrap_backend_for_host,
    ),
    Patch(
        core_responses,
        "method_names_from_class",
        "a handler class's methods are listed once, not on every request",
        wrapper=_cached_method_names,
    ),
)
