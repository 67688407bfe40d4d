"""The local AWS: moto server with the workshop's CloudFormation fixes applied.

Run as ``python -m bwp_workshop.local.moto_server --port N`` (``bwp-workshop local up`` does
that in the background). Besides moto's own API it answers ``GET /_bwp/health`` with the
moto version and the fixes in force, so the runtime can tell its own server from another
program listening on the same port.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
from collections.abc import Callable, Iterable
from typing import Any

HEALTH_PATH = "/_bwp/health"
SERVICE_NAME = "moto"


def health_middleware(
    app: Callable[..., Iterable[bytes]], fixes: list[str], version: str
) -> Callable[..., Iterable[bytes]]:
    body = json.dumps({"service": SERVICE_NAME, "moto": version, "fixes": fixes, "pid": os.getpid()}).encode()

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return wrapped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bwp_workshop.local.moto_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    args = parser.parse_args(argv)

    import moto
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    from . import moto_patches

    fixes = moto_patches.apply()
    # moto serves S3-style URLs relative to this port (template URLs of `cdk deploy`).
    os.environ.setdefault("MOTO_PORT", str(args.port))
    # One line per request is noise in the log file; warnings and errors stay.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Everything it holds is in memory and forgotten on exit: leave at once, without the
    # interpreter's teardown of every model (a second or more once resources exist).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    app = DomainDispatcherApplication(create_backend_app)
    print(f"moto {moto.__version__} on http://{args.host}:{args.port} with fixes: {'; '.join(fixes)}", flush=True)
    run_simple(
        args.host,
        args.port,
        health_middleware(app, fixes, moto.__version__),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
