"""A minimal, correct partner app for exercising the sandbox over real HTTP: launch (state and
PKCE), install (verification token, code exchange), settings (GET) and uninstall (POST),
each verifying the verification-token with only the public key. Served by uvicorn on a free
port in a thread; it records what it saw."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from ..core.verification import request_hash
from .ports import free_port


@dataclass
class ReferenceApp:
    base_url: str
    sandbox_url: str
    public_key: str
    client_id: str = ""
    client_secret: str = ""
    pending: dict[str, str] = field(default_factory=dict)  # state -> verifier
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)  # installation -> token response
    calls: list[dict[str, Any]] = field(default_factory=list)
    exchange_override: dict[str, str] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        return {
            "launch_url": f"{self.base_url}/launch",
            "install_url": f"{self.base_url}/install",
            "settings_url": f"{self.base_url}/settings",
            "uninstall_url": f"{self.base_url}/uninstall",
        }

    def verify(self, request: Request, body: bytes) -> dict[str, Any]:
        token = request.query_params.get("verification-token") or request.headers.get("verification-token")
        if not token:
            raise ValueError("no verification token")
        claims = jwt.decode(token, self.public_key, algorithms=["ES256"], options={"require": ["exp", "iat"]})
        url = str(request.url)
        assert claims["requestHash"] == request_hash(url, body), "request hash mismatch"
        return claims

    def build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/launch")
        async def launch() -> RedirectResponse:
            state = secrets.token_urlsafe(16)
            verifier = secrets.token_urlsafe(48)
            self.pending[state] = verifier
            challenge = create_s256_code_challenge(verifier)
            query = urlencode(
                {
                    "response_type": "code",
                    "client_id": self.client_id,
                    "redirect_uri": self.urls["install_url"],
                    "state": state,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                }
            )
            return RedirectResponse(f"{self.sandbox_url}/marketplace/authorize?{query}", status_code=302)

        @app.get("/install")
        async def install(request: Request) -> JSONResponse:
            if "error" in request.query_params:
                return JSONResponse({"error": request.query_params["error"]}, status_code=400)
            try:
                claims = self.verify(request, b"")
            except Exception as exc:
                return JSONResponse({"error": f"verification failed: {exc}"}, status_code=401)
            verifier = self.pending.pop(request.query_params["state"], None)
            if verifier is None:
                return JSONResponse({"error": "unknown state"}, status_code=400)
            form = {
                "grant_type": "authorization_code",
                "code": request.query_params["code"],
                "redirect_uri": self.urls["install_url"],
                "code_verifier": verifier,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                **self.exchange_override,
            }
            async with httpx.AsyncClient(trust_env=False) as http:
                answer = await http.post(f"{self.sandbox_url}/token", data=form)
            if answer.status_code != 200:
                return JSONResponse({"error": answer.json()}, status_code=502)
            self.tokens[claims["installationId"]] = answer.json()
            self.calls.append({"path": "/install", "installation_id": claims["installationId"]})
            return JSONResponse({"installed": claims["installationId"]})

        @app.get("/settings")
        async def settings(request: Request) -> JSONResponse:
            try:
                claims = self.verify(request, b"")
            except Exception as exc:
                return JSONResponse({"error": f"verification failed: {exc}"}, status_code=401)
            self.calls.append({"path": "/settings", "installation_id": claims["installationId"]})
            return JSONResponse({"settings for": claims["installationId"]})

        @app.post("/uninstall")
        async def uninstall(request: Request) -> JSONResponse:
            body = await request.body()
            try:
                claims = self.verify(request, body)
            except Exception as exc:
                return JSONResponse({"error": f"verification failed: {exc}"}, status_code=401)
            self.calls.append({"path": "/uninstall", "installation_id": claims["installationId"], "body": body})
            return JSONResponse({"uninstalled": claims["installationId"]})

        return app


@contextmanager
def serve_reference_app(sandbox_url: str, public_key: str) -> Iterator[ReferenceApp]:
    port = free_port()
    ref = ReferenceApp(base_url=f"http://127.0.0.1:{port}", sandbox_url=sandbox_url, public_key=public_key)
    server = uvicorn.Server(uvicorn.Config(ref.build(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the reference app did not start")
        time.sleep(0.01)
    try:
        yield ref
    finally:
        server.should_exit = True
        thread.join(10)
