"""The local target's runtime: the services that stand in for AWS (moto server), for Buy with
Prime (the sandbox) and, once InfraStack is deployed, for the Fargate service (the OAuth app
under uvicorn), started in the background and tracked under ``.bwp/``.

``up`` starts what is not running (a service already up is left alone, except the app, which
is restarted when its configuration changed: new client credentials, say), ``down`` stops only
what ``up`` started, ``status`` reports each service, ``reset`` wipes the local AWS state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import httpx

from .. import aws, names
from ..errors import ConfigurationError, LocalRuntimeError
from ..outputs import has_stack, load_outputs
from ..settings import Settings, get_settings
from . import event_runner, moto_server, processes
from .processes import ProcessRegistry, ServiceSpec, ServiceStatus

#: The Buy with Prime sandbox's service name (``python -m bwp_workshop.sandbox``).
SANDBOX_SERVICE = "sandbox"
#: The OAuth app's service name (``uvicorn oauth_app.main:app``, the Fargate stand-in).
OAUTH_APP_SERVICE = "oauth-app"
#: uvicorn options of the app, as in oauth_app/Dockerfile (host and port are the target's).
OAUTH_APP_UVICORN_OPTIONS = ("--proxy-headers", "--no-access-log", "--no-server-header")
#: Variables of the caller's environment the app inherits (none of them configures it).
_APP_BASE_ENVIRONMENT = ("HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT")
#: The caller's variables the moto server, the sandbox and the event runner do not inherit:
#: they only talk to the local AWS, which an AWS profile (even one that does not exist) or a
#: real account's credentials must not reach.
_HIDDEN_FROM_LOCAL_SERVICES = ("AWS_",)


@dataclass(frozen=True)
class Change:
    """What ``up``/``down`` did to one service."""

    name: str
    action: str  # "started", "already running", "stopped", "not running"
    pid: int | None = None
    url: str | None = None

    def __str__(self) -> str:
        where = f" on {self.url}" if self.url else ""
        pid = f" (pid {self.pid})" if self.pid else ""
        return f"{self.name}: {self.action}{where}{pid}"


class LocalRuntime:
    """The local services for one workshop checkout (one ``.bwp/`` folder)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        if not self.settings.is_local:
            raise ConfigurationError(
                "The local runtime is only for the local target; BWP_TARGET is 'aws'.",
                hint="Unset BWP_TARGET (or set it to 'local') to use the local runtime.",
            )
        self.registry = ProcessRegistry(self.settings.bwp_dir)

    def services(self) -> list[ServiceSpec]:
        """The services in start order."""
        s = self.settings
        specs = [
            ServiceSpec(
                name=moto_server.SERVICE_NAME,
                argv=processes.python_module_argv(
                    "bwp_workshop.local.moto_server", "--host", s.local_host, "--port", str(s.local_moto_port)
                ),
                host=s.local_host,
                port=s.local_moto_port,
                health_path=moto_server.HEALTH_PATH,
                hidden_env_prefixes=_HIDDEN_FROM_LOCAL_SERVICES,
                port_setting="BWP_LOCAL_MOTO_PORT",
            ),
            ServiceSpec(
                name=SANDBOX_SERVICE,
                argv=processes.python_module_argv(
                    "bwp_workshop.sandbox", "--host", s.local_host, "--port", str(s.local_sandbox_port)
                ),
                host=s.local_host,
                port=s.local_sandbox_port,
                health_path=moto_server.HEALTH_PATH,
                # The sandbox reads the same settings as this runtime, whatever made them.
                env={
                    "BWP_TARGET": "local",
                    "BWP_PROJECT_DIR": str(s.project_dir),
                    "BWP_STATE_DIR": str(s.bwp_dir),
                    "BWP_REGION": s.region,
                    "BWP_LOCAL_MOTO_PORT": str(s.local_moto_port),
                },
                hidden_env_prefixes=_HIDDEN_FROM_LOCAL_SERVICES,
                port_setting="BWP_LOCAL_SANDBOX_PORT",
            ),
            *self._oauth_app(),
        ]
        # The event source of the event Lambda, once EventStack exists (or while a runner
        # started earlier still runs, so `down` stops it after a reset forgot the outputs).
        if has_stack(s, names.EVENT_STACK) or self.registry.read(event_runner.SERVICE_NAME) is not None:
            specs.append(self._event_runner_spec())
        return specs

    def _oauth_app(self) -> list[ServiceSpec]:
        """The OAuth app, configured as EcsStack configures the task, once InfraStack's token
        table exists (so `local up` after the deploy starts it). Its environment is complete
        in itself: the local AWS's endpoint and dummy keys, nothing of the caller's AWS setup."""
        s = self.settings
        token_table = load_outputs(s).get(names.INFRA_STACK, {}).get(names.OUT_TOKEN_TABLE)
        if not token_table:
            return []
        public_key = s.public_key
        if not public_key and s.sandbox_public_key_file.is_file():  # the sandbox wrote it since
            public_key = s.sandbox_public_key_file.read_text()
        # Only what the app needs, so the environment (and the fingerprint that tells `up` to
        # restart the app) is the same whichever shell or notebook kernel runs `local up`.
        base = {name: os.environ[name] for name in _APP_BASE_ENVIRONMENT if name in os.environ}
        env = aws.subprocess_environment(s, base=base)
        env.update(
            {
                names.ENV_TOKEN_TABLE: token_table,
                names.ENV_BUSINESS_PRODUCT_TABLE: load_outputs(s)
                .get(names.INFRA_STACK, {})
                .get(names.OUT_BUSINESS_PRODUCT_TABLE, ""),
                # On local the load balancer is a record only: the app's own URL is the base URL.
                names.ENV_APP_BASE_URL: s.local_app_url,
                names.ENV_CLIENT_ID: s.client_id,
                names.ENV_CLIENT_SECRET: s.client_secret.get_secret_value(),
                names.ENV_AUTHORIZE_URL: s.authorize_url,
                names.ENV_TOKEN_URL: s.token_url,
                names.ENV_GRAPHQL_URL: s.graphql_url,
                names.ENV_API_VERSION: s.api_version,
                names.ENV_PUBLIC_KEY: public_key,
            }
        )
        return [
            ServiceSpec(
                name=OAUTH_APP_SERVICE,
                argv=processes.python_module_argv(
                    "uvicorn",
                    "oauth_app.main:app",
                    "--host",
                    s.local_host,
                    "--port",
                    str(s.local_app_port),
                    *OAUTH_APP_UVICORN_OPTIONS,
                ),
                host=s.local_host,
                port=s.local_app_port,
                health_path=moto_server.HEALTH_PATH,
                env=env,
                inherit_env=False,
                restart_on_change=True,  # new client credentials or a redeployed table
                port_setting="BWP_LOCAL_APP_PORT",
            )
        ]

    def _event_runner_spec(self) -> ServiceSpec:
        s = self.settings
        return ServiceSpec(
            name=event_runner.SERVICE_NAME,
            argv=processes.python_module_argv(
                "bwp_workshop.local.event_runner",
                "--host",
                s.local_host,
                "--port",
                str(s.local_event_runner_port),
                "--retry-after",
                str(s.local_event_retry_after),
            ),
            host=s.local_host,
            port=s.local_event_runner_port,
            health_path=event_runner.HEALTH_PATH,
            # The runner reads the same settings as this process, whatever set them.
            env={
                "BWP_TARGET": s.target,
                "BWP_PROJECT_DIR": str(s.project_dir),
                "BWP_STATE_DIR": str(s.bwp_dir),
                "BWP_REGION": s.region,
                "BWP_LOCAL_HOST": s.local_host,
                "BWP_LOCAL_MOTO_PORT": str(s.local_moto_port),
                "BWP_LOCAL_SANDBOX_PORT": str(s.local_sandbox_port),
                "BWP_TOKEN_URL": s.token_url,
                "BWP_GRAPHQL_URL": s.graphql_url,
                "BWP_API_VERSION": s.api_version,
            },
            hidden_env_prefixes=_HIDDEN_FROM_LOCAL_SERVICES,
            port_setting="BWP_LOCAL_EVENT_RUNNER_PORT",
        )

    def up(self) -> list[Change]:
        changes = []
        with self.registry.locked():
            for name in [spec.name for spec in self.services()]:
                # Each spec is made just before its start: the app's needs the key the sandbox
                # writes when it first starts.
                spec = next(spec for spec in self.services() if spec.name == name)
                record = self.registry.read(spec.name)
                if record is not None and processes.process_of(record) is not None:
                    self._check_running(spec, record)
                    if spec.restart_on_change and record.fingerprint != spec.fingerprint:
                        processes.stop(spec.name, self.registry)
                        record = processes.start(spec, self.registry, ready_timeout=self.settings.local_ready_timeout)
                        changes.append(
                            Change(
                                spec.name,
                                "restarted (configuration changed)",
                                record.pid,
                                f"http://{record.host}:{record.port}",
                            )
                        )
                        continue
                    changes.append(
                        Change(spec.name, "already running", record.pid, f"http://{record.host}:{record.port}")
                    )
                    continue
                record = processes.start(spec, self.registry, ready_timeout=self.settings.local_ready_timeout)
                changes.append(Change(spec.name, "started", record.pid, f"http://{record.host}:{record.port}"))
        return changes

    @staticmethod
    def _check_running(spec: ServiceSpec, record: processes.ProcessRecord) -> None:
        """A running service must be where the settings say and answer as itself."""
        restart = "Run `bwp-workshop local down`, then `bwp-workshop local up`."
        if (record.host, record.port) != (spec.host, spec.port):
            raise LocalRuntimeError(
                f"{spec.name} (pid {record.pid}) runs on {record.host}:{record.port}, but the settings say "
                f"{spec.host}:{spec.port}.",
                hint=f"{restart} (or set {spec.port_setting}={record.port} again).",
            )
        if not processes.answers(spec, record.host, record.port, pid=record.pid, timeout=5):
            raise LocalRuntimeError(
                f"{spec.name} (pid {record.pid}) is running but does not answer on "
                f"http://{record.host}:{record.port}{spec.health_path}; see {record.log_file}.",
                hint=restart,
            )

    def down(self) -> list[Change]:
        changes = []
        with self.registry.locked():
            service_names = [spec.name for spec in reversed(self.services())]
            if OAUTH_APP_SERVICE not in service_names and self.registry.read(OAUTH_APP_SERVICE):
                service_names.insert(0, OAUTH_APP_SERVICE)  # started before the outputs were reset
            for name in service_names:
                record = processes.stop(name, self.registry)
                changes.append(Change(name, "stopped", record.pid) if record else Change(name, "not running"))
        return changes

    def status(self) -> list[ServiceStatus]:
        with self.registry.locked():
            return [processes.status(spec, self.registry) for spec in self.services()]

    def is_up(self) -> bool:
        return all(service.state == "running" for service in self.status())

    def reset(self) -> None:
        """Wipe every resource in the local AWS (the server keeps running) and forget the
        cached stack outputs that described them."""
        moto = next(service for service in self.status() if service.name == moto_server.SERVICE_NAME)
        if moto.state != "running":
            raise LocalRuntimeError(
                "The local AWS is not running, so there is nothing to reset.",
                hint="Start it with `bwp-workshop local up`.",
            )
        response = httpx.post(f"{moto.url}/moto-api/reset", timeout=30, trust_env=False)
        if response.status_code != 200:
            raise LocalRuntimeError(
                f"The local AWS refused the reset (HTTP {response.status_code}).",
                hint=f"Restart it: `bwp-workshop local down && bwp-workshop local up` (log: {moto.log_file}).",
            )
        (self.settings.bwp_dir / "outputs.json").unlink(missing_ok=True)
