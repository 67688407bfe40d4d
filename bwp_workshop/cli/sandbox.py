"""``bwp-workshop sandbox ...``: the Buy with Prime sandbox of the local target."""

from __future__ import annotations

import json
from typing import Any

import click

from ..sandbox.order_lifecycles import LIFECYCLES
from ..settings import get_settings
from ..targets import choose_target


def _client() -> Any:
    from ..sandbox.client import SandboxClient

    return SandboxClient(get_settings())


def _print(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@click.group()
def sandbox() -> None:
    """The Buy with Prime sandbox: partner console, merchants, events, faults.

    It runs with the local runtime (`bwp-workshop local up`) or in the foreground
    (`bwp-workshop sandbox serve`); its state is kept in <state>/sandbox.
    """


@sandbox.command()
@click.option("--host", default=None, help="Address to bind (default: BWP_LOCAL_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: BWP_LOCAL_SANDBOX_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the sandbox in the foreground (Ctrl-C stops it)."""
    from ..sandbox.__main__ import serve as run

    run(host, port)


@sandbox.command()
@click.option(
    "--app-url",
    default=None,
    help="The app's base URL; the launch, install, settings and uninstall URLs are <app-url>/launch ... "
    "(default: the local app, http://BWP_LOCAL_HOST:BWP_LOCAL_APP_PORT).",
)
@click.option("--launch-url", default=None, help="Launch URL (overrides <app-url>/launch).")
@click.option("--install-url", default=None, help="Install URL = OAuth redirect URI (overrides <app-url>/install).")
@click.option("--settings-url", default=None, help="Settings URL (overrides <app-url>/settings).")
@click.option("--uninstall-url", default=None, help="Uninstall URL (overrides <app-url>/uninstall).")
@click.option("--show-secret", is_flag=True, help="Print the client secret (it is masked otherwise).")
@click.option("--write-env", is_flag=True, help="Write BWP_CLIENT_ID and BWP_CLIENT_SECRET into the project's .env.")
def register(
    app_url: str | None,
    launch_url: str | None,
    install_url: str | None,
    settings_url: str | None,
    uninstall_url: str | None,
    show_secret: bool,
    write_env: bool,
) -> None:
    """Register an app (approve its onboarding request): prints its client id and secret."""
    from ..sandbox.client import write_credentials_to_env

    settings = get_settings()
    base = (app_url or settings.local_app_url).rstrip("/")
    with _client() as client:
        registration = client.register_app(
            launch_url or f"{base}/launch",
            install_url or f"{base}/install",
            settings_url or f"{base}/settings",
            uninstall_url or f"{base}/uninstall",
        )
    click.echo(f"app id:        {registration.app_id}")
    click.echo(f"client id:     {registration.client_id}")
    secret = registration.client_secret.get_secret_value() if show_secret else "********"
    click.echo(f"client secret: {secret}")
    for name in ("launch_url", "install_url", "settings_url", "uninstall_url"):
        click.echo(f"{name.replace('_', ' ') + ':':<15}{getattr(registration, name)}")
    if write_env:
        path = write_credentials_to_env(settings, registration)
        click.echo(f"BWP_CLIENT_ID and BWP_CLIENT_SECRET written to {path}")
    elif not show_secret:
        click.echo("The secret is shown only once: pass --write-env to keep it in .env (or --show-secret).")


@sandbox.command()
def merchants() -> None:
    """List the seeded merchants (business product, site and widget ids, catalog size)."""
    with _client() as client:
        for merchant in client.merchants():
            click.echo(
                f"{merchant['merchantId']}  {merchant['businessProductId']}  site {merchant['siteId']}  "
                f"{len(merchant['products'])} products  {merchant['name']}"
            )


def _display_available() -> bool:
    import os
    import sys

    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@sandbox.command()
@click.option("--open", "open_browser", is_flag=True, help="Also open the page in a browser (where a display exists).")
def console(open_browser: bool) -> None:
    """Print the console page where a person installs the app as a merchant, with a browser."""
    import webbrowser

    from ..errors import LocalRuntimeError
    from ..steps.install import browser_install

    settings = get_settings()
    how = browser_install(settings)
    url = how["open in a browser"]
    click.echo(url)
    click.echo(how["what to do"])
    sandbox = choose_target(settings).sandbox()
    if sandbox is not None:
        try:
            with sandbox as client:
                client.merchants()
        except LocalRuntimeError as error:
            click.echo(str(error), err=True)
    if open_browser:
        if _display_available() and webbrowser.open(url):
            click.echo("Opened in your browser.")
        else:
            click.echo("No browser can be opened here: open the URL above yourself.", err=True)


@sandbox.command()
@click.option("--merchant", "merchant_id", default=None, help="Merchant id (default: the first merchant).")
@click.option("--app", "app_id", default=None, help="App or client id (default: BWP_CLIENT_ID, else the last app).")
def install(merchant_id: str | None, app_id: str | None) -> None:
    """A merchant installs the app: launch -> authorize -> install, as a browser would."""
    with _client() as client:
        outcome = client.install(merchant_id, app_id=app_id)
    for url in outcome.redirects:
        click.echo(f"  -> {url}")
    click.echo(f"installation: {outcome.installation_id}")
    click.echo(f"final answer: HTTP {outcome.status_code} from {outcome.final_url}")
    if not outcome.ok:
        raise click.ClickException(f"the install did not complete: {outcome.error or outcome.page[:200]}")
    click.echo("installed")


@sandbox.command("settings")
@click.argument("installation_id")
def open_settings(installation_id: str) -> None:
    """The merchant opens the app's settings (a signed GET of the settings URL)."""
    with _client() as client:
        outcome = client.open_settings(installation_id)
    click.echo(f"GET {outcome.url}: HTTP {outcome.status_code} {outcome.error}".rstrip())
    if not outcome.ok:
        raise SystemExit(1)


@sandbox.command()
@click.argument("installation_id")
def uninstall(installation_id: str) -> None:
    """The merchant removes the app (a signed POST of the uninstall URL; tokens revoked)."""
    with _client() as client:
        outcome = client.uninstall(installation_id)
    click.echo(f"POST {outcome.url}: HTTP {outcome.status_code} {outcome.error}".rstrip())
    click.echo(f"installation {installation_id} uninstalled; its tokens are revoked")


@sandbox.command()
@click.option("--orders", type=int, default=1, show_default=True, help="Orders to place.")
@click.option(
    "--lifecycle",
    type=click.Choice(["mixed", *LIFECYCLES]),
    default="mixed",
    show_default=True,
)
@click.option("--installation", "installation_id", default=None, help="Act as this installation's merchant.")
@click.option("--merchant", "merchant_id", default=None, help="Act as this merchant.")
@click.option("--catalog", "catalog_events", type=int, default=0, help="BUYABILITY/INVENTORY_CHANGED events.")
@click.option("--privacy", "privacy_events", type=int, default=0, help="PERSONAL_DATA_* events.")
@click.option("--duplicates", type=int, default=0, help="Events to deliver a second time.")
@click.option(
    "--malformed",
    multiple=True,
    type=click.Choice(["missing_installation", "unknown_installation", "garbage_detail", "foreign_source"]),
    help="Also publish one broken event of this kind (repeatable).",
)
@click.option(
    "--shape",
    "shapes",
    multiple=True,
    type=click.Choice(["2024-11-01", "legacy", "2024-01-01"]),
    help="Payload shape (repeatable; default: BWP_SANDBOX_EVENT_SHAPES).",
)
@click.option("--seed", type=int, default=None, help="Seed for reproducible choices.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON.")
def emit(as_json: bool, shapes: tuple[str, ...], malformed: tuple[str, ...], **options: Any) -> None:
    """Simulate merchant activity and publish its events to the subscribed event sources."""
    with _client() as client:
        result = client.emit(shapes=list(shapes) or None, malformed=malformed, **options)
    if as_json:
        _print(result)
        return
    click.echo(
        f"merchant {result['merchant_id']}: {len(result['orders'])} orders, {result['published']} events published "
        f"({result['deliveries']} deliveries) to {result['subscriptions']} subscriptions; "
        f"{result['undelivered']} undelivered"
    )
    for entry in result["entries"]:
        if entry["error"]:
            click.echo(f"  {entry['type']}: {entry['error']}")


@sandbox.command()
@click.option("--endpoint", type=click.Choice(["authorize", "token", "graphql"]), default=None)
@click.option("--error-rate", type=float, default=None, help="Share answered with HTTP 503.")
@click.option("--throttle-rate", type=float, default=None, help="Share throttled (GraphQL ThrottlingError, else 429).")
@click.option("--internal-error-rate", type=float, default=None, help="GraphQL InternalServerError share.")
@click.option("--latency-ms", type=float, default=None, help="Latency added to every request.")
@click.option("--seed", type=int, default=None, help="Seed of the fault draws.")
@click.option("--off", is_flag=True, help="Turn every fault off.")
def faults(endpoint: str | None, off: bool, **values: Any) -> None:
    """Show the injected faults, or set those of one endpoint."""
    with _client() as client:
        if off:
            result = client.set_faults(replace=True)
        elif endpoint:
            current = client.faults()[endpoint]
            current.update({name: value for name, value in values.items() if value is not None})
            result = client.set_faults(**{endpoint: current})
        elif any(value is not None for value in values.values()):
            raise click.UsageError("name the --endpoint whose faults to set")
        else:
            result = client.faults()
    for name, spec in result.items():
        settings = ", ".join(f"{key}={value}" for key, value in spec.items() if value)
        click.echo(f"{name:<10} {settings or 'off'}")


@sandbox.command()
@click.option("--since", type=int, default=0, help="Only entries after this sequence number.")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
def ledger(since: int, as_json: bool) -> None:
    """Every event the sandbox published: id, type, installation, shape, deliveries."""
    with _client() as client:
        entries = client.ledger(since)
    if as_json:
        _print(entries)
        return
    for entry in entries:
        flags = []
        if entry["malformed"]:
            flags.append(f"malformed:{entry['malformed']}")
        if entry["deliveries"] > 1:
            flags.append(f"x{entry['deliveries']}")
        if not entry["delivered"]:
            flags.append("undelivered")
        click.echo(
            f"{entry['seq']:>5} {entry['event_id']} {entry['type']:<34} {entry['shape']:<10} "
            f"{entry['installation_id']} {' '.join(flags)}".rstrip()
        )
