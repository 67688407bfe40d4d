"""The local runtime: background moto server and BwP sandbox, records under .bwp/, idempotent
up, clean down."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from bwp_workshop import aws
from bwp_workshop.errors import ConfigurationError, LocalRuntimeError, PortInUseError
from bwp_workshop.local import moto_patches, processes
from bwp_workshop.local.process_registry import ProcessRecord, ProcessRegistry
from bwp_workshop.local.processes import ServiceSpec
from bwp_workshop.local.runtime import LocalRuntime
from bwp_workshop.outputs import clear_outputs, stack_output
from bwp_workshop.settings import Settings
from bwp_workshop.testing.environment import clean_environ
from bwp_workshop.testing.ports import free_port

CLI = [sys.executable, "-m", "bwp_workshop"]


def _runtime(tmp_path: Path) -> LocalRuntime:
    return LocalRuntime(
        Settings(
            project_dir=tmp_path, local_moto_port=free_port(), local_sandbox_port=free_port(), local_ready_timeout=60
        )
    )


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_up_is_idempotent_and_down_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    port = runtime.settings.local_moto_port
    try:
        started, sandbox = runtime.up()
        assert (started.name, sandbox.name) == ("moto", "sandbox")
        assert started.action == sandbox.action == "started"
        assert started.url == f"http://127.0.0.1:{port}"
        assert sandbox.url == f"http://127.0.0.1:{runtime.settings.local_sandbox_port}"
        record = json.loads((tmp_path / ".bwp" / "run" / "moto.json").read_text())
        assert record["pid"] == started.pid and record["port"] == port

        sandbox_health = httpx.get(f"{sandbox.url}/_bwp/health").json()
        assert sandbox_health["service"] == "sandbox" and sandbox_health["pid"] == sandbox.pid
        assert sandbox_health["state"] == str(tmp_path / ".bwp" / "sandbox")
        assert runtime.settings.sandbox_public_key_file.is_file()

        health = httpx.get(f"{started.url}/_bwp/health").json()
        assert health["service"] == "moto"
        assert health["moto"] == moto_patches.MOTO_VERSION
        assert health["fixes"] == moto_patches.apply()

        again, sandbox_again = runtime.up()
        assert again.action == sandbox_again.action == "already running"
        assert (again.pid, sandbox_again.pid) == (started.pid, sandbox.pid)
        state, sandbox_state = runtime.status()
        assert (state.state, state.pid, state.port) == ("running", started.pid, port)
        assert (sandbox_state.state, sandbox_state.pid) == ("running", sandbox.pid)
        assert runtime.is_up()
    finally:
        down = {change.name: change for change in runtime.down()}
        stopped, sandbox_stopped = down["moto"], down["sandbox"]
    assert stopped.action == sandbox_stopped.action == "stopped"
    assert _gone(started.pid) and _gone(sandbox.pid)
    assert not processes.port_in_use("127.0.0.1", port)
    assert not processes.port_in_use("127.0.0.1", runtime.settings.local_sandbox_port)
    assert not (tmp_path / ".bwp" / "run" / "moto.json").exists()
    assert runtime.status()[0].state == "stopped"
    assert runtime.down()[0].action == "not running"


def test_cli_up_outlives_the_calling_process(tmp_path: Path) -> None:
    """`local up` returns while the server keeps running (a notebook kernel restart keeps it)."""
    port, sandbox_port = free_port(), free_port()
    env = clean_environ(
        BWP_PROJECT_DIR=str(tmp_path), BWP_LOCAL_MOTO_PORT=str(port), BWP_LOCAL_SANDBOX_PORT=str(sandbox_port)
    )
    up = subprocess.run([*CLI, "local", "up"], env=env, capture_output=True, text=True, timeout=120)
    try:
        assert up.returncode == 0, up.stderr
        assert f"moto: started on http://127.0.0.1:{port}" in up.stdout
        assert f"sandbox: started on http://127.0.0.1:{sandbox_port}" in up.stdout
        assert httpx.get(f"http://127.0.0.1:{port}/_bwp/health").status_code == 200
        status = subprocess.run([*CLI, "local", "status"], env=env, capture_output=True, text=True, timeout=60)
        assert status.returncode == 0
        assert "running" in status.stdout
        up_again = subprocess.run([*CLI, "local", "up"], env=env, capture_output=True, text=True, timeout=60)
        assert "moto: already running" in up_again.stdout
        logs = subprocess.run([*CLI, "local", "logs", "-n", "5"], env=env, capture_output=True, text=True, timeout=60)
        assert logs.returncode == 0
        assert f"moto 5.2.5 on http://127.0.0.1:{port} with fixes" in logs.stdout
    finally:
        down = subprocess.run([*CLI, "local", "down"], env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 0
    assert "moto: stopped" in down.stdout and "sandbox: stopped" in down.stdout
    assert not processes.port_in_use("127.0.0.1", port)
    assert not processes.port_in_use("127.0.0.1", sandbox_port)
    after = subprocess.run([*CLI, "local", "status", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert after.returncode == 3
    assert json.loads(after.stdout)[0]["state"] == "stopped"


def test_a_port_taken_by_another_program_is_a_clear_error(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    port = runtime.settings.local_moto_port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(PortInUseError) as caught:
            runtime.up()
        assert f"port {port} on 127.0.0.1 is in use by" in str(caught.value)
        assert "set BWP_LOCAL_MOTO_PORT to a free port" in str(caught.value)
        state = runtime.status()[0]
        assert state.state == "stopped"
        assert f"port {port} is taken" in state.detail
    assert not (tmp_path / ".bwp" / "run" / "moto.json").exists()


def test_a_recycled_pid_is_never_signalled(tmp_path: Path) -> None:
    """A record whose pid now belongs to another process (other start time) is stale: `down`
    forgets it and leaves that process alone."""
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        registry = ProcessRegistry(tmp_path / ".bwp")
        registry.write(
            ProcessRecord(
                "moto", bystander.pid, create_time=1.0, host="127.0.0.1", port=1, argv=[], log_file="", started_at=0
            )
        )
        runtime = LocalRuntime(Settings(project_dir=tmp_path))
        assert runtime.down()[0].action == "not running"
        assert bystander.poll() is None
        assert registry.read("moto") is None
    finally:
        bystander.kill()
        bystander.wait()


def test_a_stale_record_is_replaced_on_up(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    runtime = _runtime(tmp_path)
    runtime.registry.write(
        ProcessRecord("moto", int(finished.stdout), 1.0, "127.0.0.1", runtime.settings.local_moto_port, [], "", 0)
    )
    try:
        change, _ = runtime.up()
        assert change.action == "started"
        assert change.pid != int(finished.stdout)
    finally:
        runtime.down()


def test_a_service_that_exits_while_starting_reports_its_log(tmp_path: Path) -> None:
    spec = ServiceSpec(
        name="broken",
        argv=[sys.executable, "-c", "import sys; print('cannot open the frobnicator'); sys.exit(3)"],
        host="127.0.0.1",
        port=free_port(),
        health_path="/",
    )
    registry = ProcessRegistry(tmp_path)
    with pytest.raises(LocalRuntimeError) as caught:
        processes.start(spec, registry, ready_timeout=30)
    assert "broken exited with code 3 while starting" in str(caught.value)
    assert "cannot open the frobnicator" in str(caught.value)
    assert registry.read("broken") is None


def _impostor(name: str, folder: Path) -> ServiceSpec:
    """A service that answers on its port, but never as itself (a plain file server)."""
    port = free_port()
    return ServiceSpec(
        name=name,
        argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)],
        host="127.0.0.1",
        port=port,
        health_path="/_bwp/health",
    )


def test_services_started_together_are_launched_at_once_and_none_outlives_a_failure(tmp_path: Path) -> None:
    """``start_all`` launches every service before waiting on any (the local AWS and the sandbox
    start side by side); when the first fails, the second, launched but not ready, is stopped."""
    broken = ServiceSpec(
        name="broken",
        argv=[sys.executable, "-c", "import sys; sys.exit(3)"],
        host="127.0.0.1",
        port=free_port(),
        health_path="/",
    )
    slow = _impostor("slow", tmp_path)
    port = slow.port
    registry = ProcessRegistry(tmp_path)
    with pytest.raises(LocalRuntimeError, match="broken exited with code 3"):
        processes.start_all([broken, slow], registry, ready_timeout=30)
    assert "starting slow" in (registry.log_dir / "slow.log").read_text()  # launched before the failure
    assert registry.read("broken") is None and registry.read("slow") is None
    assert not processes.port_in_use("127.0.0.1", port)


def test_a_service_that_never_turns_healthy_is_stopped(tmp_path: Path) -> None:
    """Something answers on the port, but not as this service: time out, stop it, say so."""
    spec = _impostor("impostor", tmp_path)
    port = spec.port
    started = time.monotonic()
    with pytest.raises(LocalRuntimeError) as caught:
        processes.start(spec, ProcessRegistry(tmp_path), ready_timeout=2)
    assert time.monotonic() - started < 30
    assert "did not become ready" in str(caught.value)
    assert "BWP_LOCAL_READY_TIMEOUT" in str(caught.value)
    deadline = time.monotonic() + 10
    while processes.port_in_use("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes.port_in_use("127.0.0.1", port)


def test_reset_wipes_the_local_aws_and_the_cached_outputs(local_aws: LocalRuntime) -> None:
    settings = local_aws.settings
    clear_outputs(settings)  # nothing forgotten by an earlier test on this worker
    dynamodb = aws.client("dynamodb", settings)
    dynamodb.create_table(
        TableName="scratch",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    outputs = settings.bwp_dir / "outputs.json"
    outputs.write_text('{"InfraStack": {"TokenTableName": "scratch"}}')
    local_aws.reset()
    assert dynamodb.list_tables()["TableNames"] == []
    assert json.loads(outputs.read_text()) == {}
    with pytest.raises(ConfigurationError, match=r"InfraStack no longer exists.*reset") as caught:
        stack_output(settings, "InfraStack", "TokenTableName")
    assert "run notebook 01 again" in str(caught.value)
    assert local_aws.is_up()


def test_reset_when_down_says_to_start_it(tmp_path: Path) -> None:
    with pytest.raises(LocalRuntimeError, match="bwp-workshop local up"):
        _runtime(tmp_path).reset()


def test_the_local_runtime_is_refused_on_the_aws_target(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="only for the local target"):
        LocalRuntime(Settings(project_dir=tmp_path, target="aws"))


def test_up_refuses_a_running_service_on_another_port_than_configured(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    try:
        started, _ = runtime.up()
        moved = LocalRuntime(runtime.settings.model_copy(update={"local_moto_port": free_port()}))
        with pytest.raises(LocalRuntimeError) as caught:
            moved.up()
        assert f"runs on 127.0.0.1:{runtime.settings.local_moto_port}, but the settings say" in str(caught.value)
        assert "bwp-workshop local down" in str(caught.value)
    finally:
        runtime.down()
    assert _gone(started.pid)


def test_up_reports_a_running_service_that_stopped_answering(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    try:
        started, _ = runtime.up()
        psutil.Process(started.pid).suspend()
        with pytest.raises(LocalRuntimeError, match="is running but does not answer"):
            runtime.up()
        assert runtime.status()[0].state == "unhealthy"
        psutil.Process(started.pid).resume()
    finally:
        runtime.down()
    assert _gone(started.pid)


def test_an_interrupted_start_leaves_no_process_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while waiting for readiness: the half-started server is stopped, nothing recorded."""
    runtime = _runtime(tmp_path)
    started: list[int] = []
    real_wait = processes._wait_ready

    def interrupted(spec: ServiceSpec, child: subprocess.Popen[bytes], *args: object) -> None:
        started.append(child.pid)
        real_wait(spec, child, *args)  # let it come up, then interrupt
        raise KeyboardInterrupt

    monkeypatch.setattr(processes, "_wait_ready", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runtime.up()
    assert _gone(started[0])
    assert runtime.registry.read("moto") is None
    assert not processes.port_in_use("127.0.0.1", runtime.settings.local_moto_port)


def test_a_held_lock_times_out_with_a_clear_message(tmp_path: Path) -> None:
    import filelock

    registry = ProcessRegistry(tmp_path / ".bwp")
    registry.run_dir.mkdir(parents=True)
    with (
        filelock.FileLock(registry.run_dir / ".lock"),
        pytest.raises(LocalRuntimeError, match="held the local runtime"),
        registry.locked(timeout=0.2),
    ):
        pass


def test_up_ignores_the_callers_aws_profile_and_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shell with AWS_PROFILE set to a profile this machine does not have (or a real
    account's keys) still starts the local services, and none of them sees those variables."""
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALACCOUNTKEY00")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-real-session-token")
    runtime = _runtime(tmp_path)
    try:
        changes = runtime.up()
        assert [change.action for change in changes] == ["started", "started"]
        for change in changes:
            inherited = psutil.Process(change.pid).environ()
            assert not [name for name in inherited if name.startswith("AWS_")], change.name
            assert httpx.get(f"{change.url}/_bwp/health", trust_env=False).json()["pid"] == change.pid
    finally:
        runtime.down()
