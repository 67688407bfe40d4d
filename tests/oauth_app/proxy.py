"""A round-robin HTTP reverse proxy for tests: the load balancer in front of two app
processes. Each request (not connection) goes to the next backend; Host is preserved and
X-Forwarded-For/Proto are added, as an ALB does. It records which backend served each path."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bwp_workshop.testing.ports import free_port

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length", "te", "trailer"}


@dataclass
class RoundRobin:
    backends: list[str]
    port: int = field(default_factory=free_port)
    served: list[tuple[str, str]] = field(default_factory=list)  # (path, backend)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> Starlette:
        turn = itertools.cycle(self.backends)
        lock = threading.Lock()
        client = httpx.AsyncClient(trust_env=False, timeout=30)

        async def forward(request: Request) -> Response:
            with lock:
                backend = next(turn)
                self.served.append((request.url.path, backend))
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["x-forwarded-for"] = request.client.host if request.client else "127.0.0.1"
            headers["x-forwarded-proto"] = "http"
            target = backend + request.scope["raw_path"].decode("latin-1")
            if request.scope["query_string"]:
                target += "?" + request.scope["query_string"].decode("latin-1")
            answer = await client.request(
                request.method, httpx.URL(target), headers=headers, content=await request.body()
            )
            dropped = HOP_BY_HOP | {"content-encoding"}  # httpx has decoded the body
            kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in dropped]
            response = Response(content=answer.content, status_code=answer.status_code)
            response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in kept] + [
                (b"content-length", str(len(answer.content)).encode())
            ]
            return response

        return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "PUT", "DELETE", "HEAD"])])


@contextmanager
def round_robin(backends: list[str]) -> Iterator[RoundRobin]:
    proxy = RoundRobin(backends)
    server = uvicorn.Server(
        uvicorn.Config(proxy.app(), host="127.0.0.1", port=proxy.port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the proxy did not start")
        time.sleep(0.02)
    try:
        yield proxy
    finally:
        server.should_exit = True
        thread.join(timeout=15)
