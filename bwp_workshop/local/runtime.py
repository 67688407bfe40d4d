"""The local target's runtime: the services that stand in for AWS (moto server), for Buy with
Prime (the sandbox) and, once InfraStack is deployed, for the Fargate service (the OAuth app
under uvicorn), started in the background and tracked under ``.bwp/``.

``up`` starts what is not running (a service already up is left alone, except the app, which
is restarted when its configuration changed: new client credentials, say), ``down`` stops only
what ``up`` started, ``status`` reports each service, ``reset`` wipes the local AWS state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import httpx

from .. import aws, environments, names
from ..errors import ConfigurationError, LocalRuntimeError
from ..outputs import forget, has_stack, load_outputs, stack_output
from ..settings import Settings
from ..targets import choose_target
from . import event_runner, moto_server, processes, reconciliation
from .processes import ProcessRegistry, ServiceSpec, ServiceStatus

#: The Buy with Prime sandbox's service name (``python -m bwp_workshop.sandbox``).
SANDBOX_SERVICE = "sandbox"
#: The OAuth app's service name (``uvicorn oauth_app.main:app``, the Fargate stand-in).
OAUTH_APP_SERVICE = "oauth-app"
#: The line ``up`` adds when the local AWS has lost stacks that ``.bwp/`` remembered.
LOCAL_AWS = "local AWS"
#: Every service, in start order (``down`` stops them in reverse).
ALL_SERVICES = (moto_server.SERVICE_NAME, SANDBOX_SERVICE, OAUTH_APP_SERVICE, event_runner.SERVICE_NAME)
#: Services that exist only while their stack does (InfraStack's table, EventStack's queue).
_STACK_OF_SERVICE = {OAUTH_APP_SERVICE: names.INFRA_STACK, event_runner.SERVICE_NAME: names.EVENT_STACK}
STOPPED_WITH_THEIR_STACK = tuple(_STACK_OF_SERVICE)
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


def service_ports(settings: Settings) -> dict[int, str]:
    """Which local service listens on which port (the settings' ports)."""
    return {
        settings.local_moto_port: moto_server.SERVICE_NAME,
        settings.local_sandbox_port: SANDBOX_SERVICE,
        settings.local_app_port: OAUTH_APP_SERVICE,
        settings.local_event_runner_port: event_runner.SERVICE_NAME,
    }


class LocalRuntime:
    """The local services for one workshop checkout (one ``.bwp/`` folder)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if self.settings.target != "local":
            raise ConfigurationError(
                "The local runtime is only for the local target; BWP_TARGET is 'aws'.",
                hint="Unset BWP_TARGET (or set it to 'local') to use the local runtime.",
            )
        self.registry = ProcessRegistry(self.settings.bwp_dir)

    def _moto_spec(self) -> ServiceSpec:
        s = self.settings
        return ServiceSpec(
            name=moto_server.SERVICE_NAME,
            argv=processes.python_module_argv(
                "bwp_workshop.local.moto_server", "--host", s.local_host, "--port", str(s.local_moto_port)
            ),
            host=s.local_host,
            port=s.local_moto_port,
            health_path=moto_server.HEALTH_PATH,
            hidden_env_prefixes=_HIDDEN_FROM_LOCAL_SERVICES,
            port_setting="BWP_LOCAL_MOTO_PORT",
        )

    def _sandbox_spec(self) -> ServiceSpec:
        s = self.settings
        return ServiceSpec(
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
        )

    def services(self) -> list[ServiceSpec]:
        """The services the recorded stacks call for, in start order: the local AWS and the
        sandbox always, the app once InfraStack is deployed, the event runner once EventStack is."""
        specs = [self._moto_spec(), self._sandbox_spec(), *self._oauth_app()]
        if has_stack(self.settings, names.EVENT_STACK):
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
        public_key = choose_target(s).public_key()  # the sandbox's, once it has written it
        # Only what the app needs, so the environment (and the fingerprint that tells `up` to
        # restart the app) is the same whichever shell or notebook kernel runs `local up`.
        base = {name: os.environ[name] for name in _APP_BASE_ENVIRONMENT if name in os.environ}
        env = aws.subprocess_environment(s, base=base)
        env.update(
            environments.app_environment(
                s,
                token_table=token_table,
                business_product_table=load_outputs(s)
                .get(names.INFRA_STACK, {})
                .get(names.OUT_BUSINESS_PRODUCT_TABLE, ""),
                # On local the load balancer is a record only: the app's own URL is the base URL.
                app_base_url=s.local_app_url,
                public_key=public_key,
            )
        )
        # On aws ECS injects these from Secrets Manager.
        env[names.ENV_CLIENT_ID] = s.client_id
        env[names.ENV_CLIENT_SECRET] = s.client_secret.get_secret_value()
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
                # The queue it polls: a redeployed EventStack (another queue) restarts it.
                "--queue-url",
                stack_output(s, names.EVENT_STACK, names.OUT_QUEUE_URL),
                "--queue-arn",
                stack_output(s, names.EVENT_STACK, names.OUT_QUEUE_ARN),
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
            restart_on_change=True,
        )

    def up(self) -> list[Change]:
        """Start what is not running, restart what runs with an old configuration or does not
        answer, stop what serves a stack that is gone. The local AWS starts first; then what
        ``.bwp/`` remembers is checked against it (a restarted local AWS has forgotten every
        stack), and a ``Change`` named ``local AWS`` says what to run again."""
        changes = []
        with self.registry.locked():
            # On a first `up` the local AWS and the sandbox start side by side (neither needs
            # the other to start); `_up_one` then finds them running and leaves them be.
            started = self._start_together(self._moto_spec(), self._sandbox_spec())
            changes.extend(started)
            changes.append(self._up_one(self._moto_spec()))
            found = reconciliation.reconcile(self.settings)
            if found.changed:
                changes.append(Change(LOCAL_AWS, found.message()))
            wanted = [spec.name for spec in self.services()]
            for name in STOPPED_WITH_THEIR_STACK:
                if name not in wanted and processes.stop(name, self.registry) is not None:
                    changes.append(Change(name, "stopped (the stack it served is gone)"))
            for name in wanted[1:]:
                # Each spec is made just before its start: the app's needs the key the sandbox
                # writes when it first starts.
                spec = next(spec for spec in self.services() if spec.name == name)
                changes.append(self._up_one(spec))
            if found.lost_state:  # the app's token table is gone: so are its installations
                changes.append(Change(SANDBOX_SERVICE, reconciliation.forget_installations(self.settings)))
        just_started = {change.name for change in started}
        return [c for c in changes if not (c.name in just_started and c.action == "already running")]

    def _start_together(self, *specs: ServiceSpec) -> list[Change]:
        """Start ``specs`` side by side when every one of them is stopped (else nothing)."""
        if any(self._running(spec) for spec in specs):
            return []
        records = processes.start_all(specs, self.registry, ready_timeout=self.settings.local_ready_timeout)
        return [Change(r.name, "started", r.pid, f"http://{r.host}:{r.port}") for r in records]

    def _running(self, spec: ServiceSpec) -> bool:
        record = self.registry.read(spec.name)
        return record is not None and processes.process_of(record) is not None

    def _up_one(self, spec: ServiceSpec) -> Change:
        record = self.registry.read(spec.name)
        if record is None or processes.process_of(record) is None:
            record = self._start(spec)
            return Change(spec.name, "started", record.pid, f"http://{record.host}:{record.port}")
        self._check_place(spec, record)
        if spec.restart_on_change and record.fingerprint != spec.fingerprint:
            why = "restarted (configuration changed)"
        elif not processes.answers(spec, record.host, record.port, pid=record.pid, timeout=5):
            if spec.name == moto_server.SERVICE_NAME:  # restarting it would lose every resource
                raise LocalRuntimeError(
                    f"{spec.name} (pid {record.pid}) is running but does not answer on "
                    f"http://{record.host}:{record.port}{spec.health_path}; see {record.log_file}.",
                    hint="Run `bwp-workshop local down`, then `bwp-workshop local up` (the local AWS then "
                    "starts empty: the notebooks say what to run again).",
                )
            why = "restarted (it was not answering)"
        else:
            return Change(spec.name, "already running", record.pid, f"http://{record.host}:{record.port}")
        processes.stop(spec.name, self.registry)
        record = self._start(spec)
        return Change(spec.name, why, record.pid, f"http://{record.host}:{record.port}")

    def _start(self, spec: ServiceSpec) -> processes.ProcessRecord:
        return processes.start(spec, self.registry, ready_timeout=self.settings.local_ready_timeout)

    @staticmethod
    def _check_place(spec: ServiceSpec, record: processes.ProcessRecord) -> None:
        """A running service must be where the settings say."""
        if (record.host, record.port) != (spec.host, spec.port):
            raise LocalRuntimeError(
                f"{spec.name} (pid {record.pid}) runs on {record.host}:{record.port}, but the settings say "
                f"{spec.host}:{spec.port}.",
                hint="Run `bwp-workshop local down`, then `bwp-workshop local up` "
                f"(or set {spec.port_setting}={record.port} again).",
            )

    def down(self) -> list[Change]:
        with self.registry.locked():
            # The services that call the local AWS stop side by side, then the local AWS.
            stopped = processes.stop_all(list(reversed(ALL_SERVICES))[:-1], self.registry)
            stopped.update(processes.stop_all([ALL_SERVICES[0]], self.registry))
        return [
            Change(name, "stopped", record.pid) if record else Change(name, "not running")
            for name, record in stopped.items()
        ]

    def status(self) -> list[ServiceStatus]:
        """Each service's state: ``running``, ``stopped``, ``unhealthy``, or ``stale`` (running,
        but for a configuration or a stack that is no longer the deployed one), with the fix."""
        with self.registry.locked():
            moto = processes.status(self._moto_spec(), self.registry)
            found = reconciliation.reconcile(self.settings, correct=False) if moto.state == "running" else None
            if found is not None and found.changed:
                moto = replace(
                    moto, detail=found.message().replace("; run", "; `bwp-workshop local up` forgets them; run")
                )
            result = [moto]
            specs = self.services()
            for spec in specs[1:]:
                service = processes.status(spec, self.registry)
                record = self.registry.read(spec.name)
                gone = found is not None and _STACK_OF_SERVICE.get(spec.name) in found.dropped
                if service.state != "stopped" and gone:
                    service = replace(
                        service, state="stale", detail="serves a stack that is gone; `bwp-workshop local up` stops it"
                    )
                elif (
                    service.state == "running"
                    and record
                    and spec.restart_on_change
                    and record.fingerprint != spec.fingerprint
                ):
                    service = replace(
                        service,
                        state="stale",
                        detail="runs with another configuration than the deployed stacks and .env give it; "
                        "`bwp-workshop local up` restarts it",
                    )
                result.append(service)
            for name in STOPPED_WITH_THEIR_STACK:
                record = self.registry.read(name)
                if name not in {spec.name for spec in specs} and record and processes.process_of(record):
                    result.append(
                        ServiceStatus(
                            name,
                            "stale",
                            pid=record.pid,
                            port=record.port,
                            url=f"http://{record.host}:{record.port}",
                            log_file=record.log_file,
                            detail="serves a stack that is gone; `bwp-workshop local up` stops it",
                        )
                    )
            return result

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
        forget(self.settings, list(load_outputs(self.settings)), "the local AWS was reset")


def ensure_event_runner(settings: Settings) -> None:
    """Make sure the local services run and the event runner polls the deployed EventStack
    queue (what sends events calls this first); says what to run when EventStack is gone.
    Does nothing when this state folder's runtime never started the local AWS."""
    runtime = LocalRuntime(settings)
    if runtime.registry.read(moto_server.SERVICE_NAME) is None:
        return  # the local AWS was not started by this runtime (a test harness's): not ours to manage
    runtime.up()
    stack_output(runtime.settings, names.EVENT_STACK, names.OUT_QUEUE_URL)  # says what to run if it is gone
