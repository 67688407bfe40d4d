"""The app's OAuth handler: the launch, install, settings and uninstall URLs Buy with Prime
calls, served by FastAPI (on ECS Fargate on AWS, under uvicorn on 127.0.0.1 locally).

Layout: :mod:`.app` (``create_app``: wires the parts), :mod:`.services` (the tables and
clients a request uses), :mod:`.errors` (every refusal and error as a response, in one place),
:mod:`.api.deps` (request dependencies: the verified request), :mod:`.api.routes` (one module
per concern), :mod:`.config`, :mod:`.state` (pending installs), :mod:`.pages` (HTML),
:mod:`.middleware` (security headers, the access log)."""

import logging

#: The app's one logger: method, path, status and refusal reasons; never a secret.
log = logging.getLogger("oauth_app")


def printable(text: str) -> str:
    """``text`` safe for a log line: control characters, line and paragraph separators, lone
    surrogates and the backslash escaped (``\\n``, ``\\u2028``, ``\\ud800``, ``\\\\``), so
    a request cannot write a line of its own into the log (each line is one CloudWatch event)."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(
        "\\\\" if char == "\\" else char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )
