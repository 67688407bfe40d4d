"""Benchmark: latency of the Buy with Prime sandbox's token exchange and `order` query.

    .venv/bin/python bench/sandbox_latency.py [--requests 400]

Serves the sandbox as the local runtime does (``python -m bwp_workshop.sandbox`` under
uvicorn) on a free port with its state in a temporary folder, registers an app, and then,
over one keep-alive HTTP connection as an app would use:

* ``token_exchange``: POST /token, grant ``authorization_code`` with PKCE (a fresh code from
  the authorize endpoint each time; only the token request is timed);
* ``token_refresh``: POST /token, grant ``refresh_token`` (rotation);
* ``order_query``: POST /graphql with an ``order`` query asking for line items, amounts,
  customer, packages, returns and refunds.

Targets: p50 <= 5 ms for the token exchange, p50 <= 10 ms for the order query. Prints a table
and writes bench/results/sandbox_latency.json.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import psutil

from bwp_workshop.core.graphql import ORDER_DETAILS_QUERY
from bwp_workshop.local import processes
from bwp_workshop.local.runtime import SANDBOX_SERVICE, LocalRuntime
from bwp_workshop.settings import Settings
from bwp_workshop.testing.ports import free_port


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p90_ms": round(cuts[89] * 1000, 3),
        "p99_ms": round(cuts[98] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
        "n": len(ordered),
    }


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="timed requests per measurement")
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(project_dir=Path(folder), local_sandbox_port=free_port(), local_moto_port=free_port())
        spec = next(s for s in LocalRuntime(settings).services() if s.name == SANDBOX_SERVICE)
        registry = processes.ProcessRegistry(settings.bwp_dir)
        with registry.locked():
            record = processes.start(spec, registry, ready_timeout=60)
        try:
            results = measure(settings, args.requests, args.warmup)
            results["sandbox_rss_mib"] = round(psutil.Process(record.pid).memory_info().rss / 2**20, 1)
        finally:
            with registry.locked():
                processes.stop(SANDBOX_SERVICE, registry)

    results = {
        "command": f".venv/bin/python bench/sandbox_latency.py --requests {args.requests}",
        "machine": {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)},
        "targets": {"token_exchange_p50_ms": 5, "order_query_p50_ms": 10},
        **results,
    }
    out = Path(__file__).parent / "results" / "sandbox_latency.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'measurement':<16} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'n':>5}")
    for name in ("token_exchange", "token_refresh", "order_query"):
        row = results[name]
        print(f"{name:<16} {row['p50_ms']:>8} {row['p90_ms']:>8} {row['p99_ms']:>8} {row['max_ms']:>8} {row['n']:>5}")
    print(f"sandbox RSS {results['sandbox_rss_mib']} MiB; written to {out}")
    print(f"reproduce: .venv/bin/python bench/sandbox_latency.py --requests {args.requests}")


def measure(settings: Settings, requests: int, warmup: int) -> dict[str, object]:
    base = settings.sandbox_url
    install_url = "http://app.invalid/install"
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as http:
        app = http.post(
            "/_sandbox/apps",
            json={
                "launch_url": "http://app.invalid/launch",
                "install_url": install_url,
                "settings_url": "http://app.invalid/settings",
                "uninstall_url": "http://app.invalid/uninstall",
            },
        ).json()
        http.get("/_sandbox/console/install", params={"app_id": app["app_id"]})  # the console cookie
        credentials = {"client_id": app["client_id"], "client_secret": app["client_secret"]}

        def new_code() -> tuple[str, str]:
            verifier, challenge = pkce()
            response = http.get(
                "/marketplace/authorize",
                params={
                    "response_type": "code",
                    "client_id": app["client_id"],
                    "redirect_uri": install_url,
                    "state": secrets.token_urlsafe(8),
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
            return parse_qs(urlsplit(response.headers["location"]).query)["code"][0], verifier

        exchange_s: list[float] = []
        tokens: dict[str, object] = {}
        for number in range(warmup + requests):
            code, verifier = new_code()
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": install_url,
                "code_verifier": verifier,
                **credentials,
            }
            start = time.perf_counter()
            response = http.post("/token", data=form)
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, response.text
            tokens = response.json()
            if number >= warmup:
                exchange_s.append(elapsed)

        refresh_s: list[float] = []
        refresh_token = str(tokens["refresh_token"])
        for number in range(warmup + requests):
            form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **credentials}
            start = time.perf_counter()
            response = http.post("/token", data=form)
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, response.text
            tokens = response.json()
            refresh_token = str(tokens["refresh_token"])
            if number >= warmup:
                refresh_s.append(elapsed)

        location = http.get(
            "/marketplace/authorize",
            params={"response_type": "code", "client_id": app["client_id"], "redirect_uri": install_url,
                    "state": "s", "code_challenge": pkce()[1], "code_challenge_method": "S256"},
        ).headers["location"]  # fmt: skip
        import jwt

        token = parse_qs(urlsplit(location).query)["verification-token"][0]
        installation_id = jwt.decode(token, options={"verify_signature": False})["installationId"]
        merchant = http.get("/_sandbox/merchants").json()[0]
        order_id = http.get(f"/_sandbox/merchants/{merchant['merchantId']}/orders").json()[0]["id"]
        headers = {
            "Authorization": f"Bearer {tokens['access_token']}",
            "X-Omni-InstallationId": installation_id,
            "x-api-version": "2024-11-01",
        }
        body = {"query": ORDER_DETAILS_QUERY, "variables": {"orderIdentifier": {"orderId": order_id}}}
        order_s: list[float] = []
        for number in range(warmup + requests):
            start = time.perf_counter()
            response = http.post("/graphql", json=body, headers=headers)
            elapsed = time.perf_counter() - start
            assert response.status_code == 200 and "errors" not in response.json(), response.text
            if number >= warmup:
                order_s.append(elapsed)

    return {
        "token_exchange": percentiles(exchange_s),
        "token_refresh": percentiles(refresh_s),
        "order_query": percentiles(order_s),
    }


if __name__ == "__main__":
    main()
