"""Serve the sandbox: ``python -m bwp_workshop.sandbox --host H --port P``.

``bwp-workshop local up`` runs this in the background; ``bwp-workshop sandbox serve`` in the
foreground. The state folder comes from the workshop settings (``<state>/sandbox``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bwp_workshop.sandbox", description=__doc__)
    parser.add_argument("--host", default=None, help="address to bind (default: BWP_LOCAL_HOST)")
    parser.add_argument("--port", type=int, default=None, help="port (default: BWP_LOCAL_SANDBOX_PORT)")
    args = parser.parse_args(argv)
    serve(args.host, args.port)


def serve(host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    from ..settings import get_settings
    from .server import create_app

    overrides: dict[str, object] = {}
    if host:
        overrides["local_host"] = host
    if port:
        overrides["local_sandbox_port"] = port
    settings = get_settings(**overrides)
    app = create_app(settings)
    # uvicorn handles SIGTERM while it serves (a graceful shutdown that closes the database), then
    # raises it again: leave at once then, without the interpreter's teardown.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(
        f"Buy with Prime sandbox on {settings.sandbox_url} (state {settings.sandbox_dir}, "
        f"public key {settings.sandbox_public_key_file})",
        flush=True,
    )
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    uvicorn.run(app, host=settings.local_host, port=settings.local_sandbox_port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
