"""The workshop's "register the app" step (notebook 02): the onboarding request (the app's
URLs) and, on the local target, its approval by the sandbox, which issues the client id and
secret (written into ``.env``; deploying stores them in Secrets Manager, see
:mod:`bwp_workshop.deploy.prerequisites`). Re-running it changes nothing and it never shows a
secret.
"""

from __future__ import annotations

from ..errors import ConfigurationError
from ..settings import Settings
from ..targets import choose_target

APP_NAME = "SupaDupa Analytics"


def app_base_url(settings: Settings) -> str:
    """The app's base URL as Buy with Prime will call it: on aws the load balancer's DNS name,
    lowercased, with its scheme (InfraStack's ``AppBaseUrl``); on local the local app process."""
    return choose_target(settings).app_base_url()


def onboarding_request(settings: Settings) -> dict[str, str]:
    """What the app onboarding request to Buy with Prime asks for: the app's four URLs. On aws
    they must be HTTPS: codes, states and verification tokens travel in them."""
    base = app_base_url(settings)
    if choose_target(settings).requires_https and not base.startswith("https://"):
        raise ConfigurationError(
            f"The app's base URL {base} is not HTTPS: Buy with Prime would send authorization codes, states "
            "and verification tokens over plain HTTP.",
            hint="Deploy InfraStack again (notebook 01): on aws it serves the app over HTTPS through CloudFront, "
            "or through the load balancer with BWP_CERTIFICATE_ARN and BWP_APP_DOMAIN_NAME.",
        )
    return {
        "app name": APP_NAME,
        "launch URL": f"{base}/launch",
        "install URL (OAuth redirect URI)": f"{base}/install",
        "settings URL": f"{base}/settings",
        "uninstall URL": f"{base}/uninstall",
    }


def approve_onboarding(settings: Settings) -> dict[str, str]:
    """The onboarding request's approval. On the local target the sandbox approves it and issues a
    client id and secret, written into ``.env``; an app the sandbox already knows with the same
    URLs is reused (re-running the step changes nothing). On aws Buy with Prime approves it, by
    email, in about two business days: this says whether its credentials are in ``.env`` yet."""
    client = choose_target(settings).sandbox()
    if client is None:
        has_credentials = bool(settings.client_id and settings.client_secret.get_secret_value())
        return {
            "approved by": "Buy with Prime, after it reviews the request (about two business days)",
            "client id": settings.client_id or "not yet: put BWP_CLIENT_ID into .env when it arrives",
            "client secret": "******** (in .env)" if has_credentials else "not yet: BWP_CLIENT_SECRET into .env",
        }
    from ..sandbox.client import write_credentials_to_env

    request = onboarding_request(settings)
    name, *urls = request.values()
    with client as sandbox:
        if settings.client_id and settings.client_secret.get_secret_value():
            for app in sandbox.apps():
                known = [app.get(key) for key in ("launch_url", "install_url", "settings_url", "uninstall_url")]
                if app.get("client_id") == settings.client_id and known == urls:
                    return {"client id": settings.client_id, "client secret": "******** (in .env)", "new": "no"}
        launch, install, settings_url, uninstall = urls
        registration = sandbox.register_app(launch, install, settings_url, uninstall, name=name)
    write_credentials_to_env(settings, registration)
    return {"client id": registration.client_id, "client secret": "******** (in .env)", "new": "yes"}
