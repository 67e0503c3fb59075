"""A local Kubernetes control plane for the operator's tests and the demo.

These machines have no container engine, so kind cannot run. Instead this module
starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK as
plain processes on 127.0.0.1, built from Go modules by
``hack/build-control-plane.sh`` and cached outside the repository. KWOK plays
the kubelet for one fake node: pods bound to it turn Running and Ready, and Job
pods complete, but no container ever runs.

Used two ways:

* as a module (tests put ``hack/`` on ``sys.path``)::

      plane = ControlPlane(tmp_path / "plane")
      plane.start()
      ...
      plane.stop()

* as a CLI: ``python hack/localplane.py build|up|down|status|kubeconfig``. ``up``
  leaves the processes running in the background; ``down`` stops them.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import http.client
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger("localplane")

REPO = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO / "hack" / "build-control-plane.sh"
DEFAULT_STATE_DIR = REPO / ".demo" / "control-plane"

# The build script reads these from its environment, so they are pinned here
# once and passed down.
K8S_VERSION = "1.34.4"
ETCD_VERSION = "3.6.4"
KWOK_VERSION = "0.7.0"

NODE_NAME = "kwok-node-0"
STORAGE_CLASS = "standard"
LOCALHOST = "127.0.0.1"

# Written into objects only: the Service IP range and the pod IPs KWOK puts
# into pod status. Nothing ever connects to them.
SERVICE_CIDR = "10.0.0.0/24"
POD_CIDR = "10.244.0.1/24"

# Start order: each component needs the ones before it; stop() goes backwards.
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
)

STOP_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 25


def cache_dir_default() -> Path:
    """Where the build script caches binaries (``$KUBARR_CACHE`` if set)."""
    env = os.environ.get("KUBARR_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "kubarr"


def binary_paths(cache_dir: Path) -> dict[str, Path]:
    """Each component's binary, keyed by version so versions never mix."""
    versions = {
        "etcd": ETCD_VERSION,
        "kube-apiserver": K8S_VERSION,
        "kube-controller-manager": K8S_VERSION,
        "kube-scheduler": K8S_VERSION,
        "kwok": KWOK_VERSION,
    }
    return {name: cache_dir / "bin" / f"{name}-{v}" for name, v in versions.items()}


def build(cache_dir: Path | None = None) -> None:
    """Build the pinned binaries unless every one of them is already cached.

    The check happens here first so that a cached run starts no shell and no Go
    toolchain at all; the script itself also skips what it finds.
    """
    cache = cache_dir or cache_dir_default()
    missing = [p for p in binary_paths(cache).values() if not p.is_file()]
    if not missing:
        log.info("control plane binaries cached in %s", cache / "bin")
        return

    env = {
        **os.environ,
        "KUBARR_CACHE": str(cache),
        "K8S_VERSION": K8S_VERSION,
        "ETCD_VERSION": ETCD_VERSION,
        "KWOK_VERSION": KWOK_VERSION,
    }
    subprocess.run(["bash", str(BUILD_SCRIPT)], env=env, check=True)


# --- certificates ------------------------------------------------------------


@dataclass(frozen=True)
class _KeyPair:
    """A certificate and its private key, as PEM files on disk."""

    cert: Path
    key: Path

    @classmethod
    def at(cls, base: Path) -> _KeyPair:
        """``<base>.crt`` and ``<base>.key``; suffixes are appended rather than
        swapped, because user names may contain dots."""
        return cls(base.parent / f"{base.name}.crt", base.parent / f"{base.name}.key")


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256 keys are generated almost instantly, where RSA key generation would
    # add noticeably to every first start; all components accept them.
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def _issue(
    path: Path,
    common_name: str,
    *,
    organizations: Sequence[str] = (),
    issuer: _KeyPair | None = None,
    server: bool = False,
) -> _KeyPair:
    """Write ``<path>.crt``/``<path>.key``: a CA when ``issuer`` is None, else a
    leaf certificate signed by ``issuer`` (client auth, plus server auth for
    127.0.0.1 and localhost when ``server`` is set)."""
    key = _new_key()
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    attributes += [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations
    ]
    subject = x509.Name(attributes)
    now = datetime.datetime.now(datetime.UTC)

    if issuer is None:
        issuer_name = subject
        signing_key = key
    else:
        issuer_cert = x509.load_pem_x509_certificate(issuer.cert.read_bytes())
        issuer_name = issuer_cert.subject
        loaded = serialization.load_pem_private_key(issuer.key.read_bytes(), None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        signing_key = loaded

    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # An hour of slack so a clock that steps back does not invalidate them.
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=365))
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        ).add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        usages = [x509.ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            usages.append(x509.ExtendedKeyUsageOID.SERVER_AUTH)
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address(LOCALHOST)),
                    ]
                ),
                critical=False,
            )
        builder = builder.add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        ).add_extension(x509.ExtendedKeyUsage(usages), critical=False)

    cert = builder.sign(signing_key, hashes.SHA256())
    pair = _KeyPair.at(path)
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, pair.key)
    return pair


@dataclass(frozen=True)
class _Pki:
    """Every certificate and key the control plane uses, under one directory.

    Two CAs, as in a kubeadm cluster: one signs the apiserver's serving
    certificate (and becomes ``kube-root-ca.crt`` in every namespace), the other
    signs client certificates, whose CN is the user name and whose O entries are
    its groups.
    """

    root: Path

    @property
    def serving_ca(self) -> _KeyPair:
        return _KeyPair.at(self.root / "serving-ca")

    @property
    def client_ca(self) -> _KeyPair:
        return _KeyPair.at(self.root / "client-ca")

    @property
    def apiserver(self) -> _KeyPair:
        return _KeyPair.at(self.root / "apiserver")

    @property
    def service_account_key(self) -> Path:
        return self.root / "service-account.key"

    @property
    def service_account_pub(self) -> Path:
        return self.root / "service-account.pub"

    def ensure(self) -> None:
        """Create what is missing; keep what exists so kubeconfigs handed out
        earlier stay valid across restarts in the same state directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.serving_ca.key.exists():
            _issue(self.root / "serving-ca", "kubarr-local-serving-ca")
        if not self.client_ca.key.exists():
            _issue(self.root / "client-ca", "kubarr-local-client-ca")
        if not self.apiserver.key.exists():
            _issue(
                self.root / "apiserver",
                "kube-apiserver",
                issuer=self.serving_ca,
                server=True,
            )
        if not self.service_account_key.exists():
            key = _new_key()
            _write_key(key, self.service_account_key)
            pub = key.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
            self.service_account_pub.write_bytes(pub)

    def client(self, user: str, groups: Sequence[str]) -> _KeyPair:
        """A client certificate for ``user`` in ``groups``, reused if present."""
        digest = hashlib.sha256("\0".join([user, *groups]).encode()).hexdigest()
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", user)[:40]
        base = self.root / "users" / f"{safe}-{digest[:10]}"
        pair = _KeyPair.at(base)
        if pair.key.exists():
            return pair
        base.parent.mkdir(parents=True, exist_ok=True)
        return _issue(base, user, organizations=groups, issuer=self.client_ca)


# --- configuration files -----------------------------------------------------


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _write_kubeconfig(
    path: Path, server: str, ca: Path, client: _KeyPair, user: str
) -> Path:
    """Write a self-contained kubeconfig: the certificates are embedded, so the
    file still works when copied elsewhere or handed to another process. It
    holds a private key, hence the owner-only mode."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "kubarr-local",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": _b64(ca),
                },
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(client.cert),
                    "client-key-data": _b64(client.key),
                },
            }
        ],
        "contexts": [
            {
                "name": "kubarr-local",
                "context": {"cluster": "kubarr-local", "user": user},
            }
        ],
        "current-context": "kubarr-local",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


# Metadata for every request, logged once when the response is sent: enough for
# tests to count writes per user without storing any object or Secret value.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - RequestReceived
rules:
  - level: Metadata
"""

# No volume provisioner runs here, so PVCs stay Pending. A real scheduler will
# not place a pod whose claim is unbound, which would leave every StatefulSet
# with a volume unschedulable; these two checks are switched off so such pods
# land on the KWOK node while their claims stay Pending.
# Limitation: a pod whose claim can never bind still runs here, unlike on a
# real cluster.
SCHEDULER_CONFIG = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: {kubeconfig}
leaderElection:
  leaderElect: false
profiles:
  - schedulerName: default-scheduler
    plugins:
      multiPoint:
        disabled:
          - name: VolumeBinding
          - name: VolumeZone
"""

# KWOK uses its built-in pod stages only when it is given none, so these
# restate that lifecycle (start, complete Job pods, delete) and add one more:
# a Job pod annotated `kubarr.io/simulate: fail` exits 1 instead of 0. Node
# stages are not listed, so KWOK keeps its defaults for them.
SIMULATE_ANNOTATION = "kubarr.io/simulate"

_POD_START_STAGE = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: kubarr-pod-start
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
      - {key: .metadata.deletionTimestamp, operator: DoesNotExist}
      - {key: .status.podIP, operator: DoesNotExist}
  next:
    statusTemplate: |
      {{ $now := Now | Quote }}
      phase: Running
      startTime: {{ $now }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      {{ $ip := PodIPWith .spec.nodeName (or .spec.hostNetwork false)
           (or .metadata.uid "") (or .metadata.name "")
           (or .metadata.namespace "") }}
      podIP: {{ $ip | Quote }}
      conditions:
        {{ range $type := list "Initialized" "ContainersReady" "Ready" }}
        - type: {{ $type }}
          status: "True"
          lastTransitionTime: {{ $now }}
        {{ end }}
        {{ range .spec.readinessGates }}
        - type: {{ .conditionType | Quote }}
          status: "True"
          lastTransitionTime: {{ $now }}
        {{ end }}
      initContainerStatuses:
        {{ range .spec.initContainers }}
        - name: {{ .name | Quote }}
          image: {{ .image | Quote }}
          restartCount: 0
          ready: true
          {{ if eq (or .restartPolicy "") "Always" }}
          started: true
          state: {running: {startedAt: {{ $now }}}}
          {{ else }}
          state:
            terminated:
              exitCode: 0
              reason: Completed
              startedAt: {{ $now }}
              finishedAt: {{ $now }}
          {{ end }}
        {{ end }}
      containerStatuses:
        {{ range .spec.containers }}
        - name: {{ .name | Quote }}
          image: {{ .image | Quote }}
          restartCount: 0
          ready: true
          started: true
          state: {running: {startedAt: {{ $now }}}}
        {{ end }}
"""

# @NAME@, @ANNOTATION@, @FAILS@, @CODE@, @REASON@, @PHASE@ and @MESSAGE@ are filled by
# _job_pod_finish_stage; Go's template braces rule out str.format.
_JOB_POD_FINISH_STAGE = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: @NAME@
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
      - {key: .metadata.deletionTimestamp, operator: DoesNotExist}
      - {key: .status.phase, operator: In, values: [Running]}
      - {key: '.metadata.ownerReferences.[].kind', operator: In, values: [Job]}
      - key: >-
          ((.metadata.annotations["@ANNOTATION@"] // "") == "fail")
          or ((.spec.containers[-1].image // "") | endswith(":broken"))
        operator: In
        values: ["@FAILS@"]
  next:
    statusTemplate: |
      {{ $now := Now | Quote }}
      phase: @PHASE@
      conditions:
        - {type: ContainersReady, status: "False", lastTransitionTime: {{ $now }}}
        - {type: Ready, status: "False", lastTransitionTime: {{ $now }}}
      initContainerStatuses:
        {{ range .spec.initContainers }}
        - name: {{ .name | Quote }}
          image: {{ .image | Quote }}
          restartCount: 0
          ready: false
          started: false
          state:
            terminated:
              exitCode: 0
              reason: Completed
              message: @INIT_MESSAGE@
              startedAt: {{ $now }}
              finishedAt: {{ $now }}
        {{ end }}
      containerStatuses:
        {{ range .spec.containers }}
        - name: {{ .name | Quote }}
          image: {{ .image | Quote }}
          restartCount: 0
          ready: false
          started: false
          state:
            terminated:
              exitCode: @CODE@
              reason: @REASON@
              message: @MESSAGE@
              startedAt: {{ $now }}
              finishedAt: {{ $now }}
        {{ end }}
"""

_POD_DELETE_STAGE = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: kubarr-pod-delete
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
      - {key: .metadata.deletionTimestamp, operator: Exists}
      # A test can hold a pod in Terminating, as a slow kubelet would, with
      # this finalizer; the pod goes once the test removes it.
      - key: '(.metadata.finalizers // []) | any(. == "kubarr.test/hold")'
        operator: In
        values: ["false"]
  next:
    finalizers: {empty: true}
    delete: true
"""


# What a finished Job pod reports as its termination message, the way a
# kubelet reports the last words of a real container. One success message for
# every Job: it carries the fields of both the app's audit prune result and of
# `kubarr verify-db`, so the operator's reading of each is exercised; the
# failure message stands in for the tail of a failed migration.
SUCCESS_MESSAGE = (
    """'{"deleted": 7, "retention_days": 90, "duration_seconds": 0.01, """
    """"ok": true, "database": "present", "integrity": "ok", """
    """"rows": {"user": 2, "audit_log": 5}}'"""
)
FAIL_MESSAGE = "'simulated failure (KWOK): migration step raised an error'"


def _job_pod_finish_stage(name: str, fail: bool) -> str:
    """The stage that ends a running Job pod, successfully or with exit code 1.

    The two selectors are exact opposites on the annotation, so exactly one of
    them matches any running Job pod and KWOK never has to choose.
    """
    values = {
        "@NAME@": name,
        "@ANNOTATION@": SIMULATE_ANNOTATION,
        "@FAILS@": "true" if fail else "false",
        "@MESSAGE@": FAIL_MESSAGE if fail else SUCCESS_MESSAGE,
        "@INIT_MESSAGE@": SUCCESS_MESSAGE,
        "@PHASE@": "Failed" if fail else "Succeeded",
        "@CODE@": "1" if fail else "0",
        "@REASON@": "Error" if fail else "Completed",
    }
    stage = _JOB_POD_FINISH_STAGE
    for placeholder, value in values.items():
        stage = stage.replace(placeholder, value)
    return stage


def kwok_stages() -> str:
    """The pod stages KWOK runs, as one multi-document YAML file."""
    return "---\n".join(
        [
            _POD_START_STAGE,
            _job_pod_finish_stage("kubarr-job-pod-succeed", fail=False),
            _job_pod_finish_stage("kubarr-job-pod-fail", fail=True),
            _POD_DELETE_STAGE,
        ]
    )


# --- processes ---------------------------------------------------------------


def _free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (the race is accepted:
    nothing else on a test machine grabs ports in the next few milliseconds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _pid_runs(pid: int, binary: str) -> bool:
    """True if ``pid`` is alive and still runs ``binary``.

    Checking the executable guards against signalling an unrelated process that
    inherited a recycled pid after the control plane died.
    """
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return exe.removesuffix(" (deleted)") == os.path.realpath(binary)


class ControlPlaneError(RuntimeError):
    """A component failed to start or the plane did not become ready in time."""


class _Api:
    """The few HTTPS calls start() needs, made with the admin certificate.

    The standard library suffices here and keeps start() independent of kubectl
    and of any Kubernetes client package.
    """

    def __init__(self, port: int, ca: Path, client: _KeyPair) -> None:
        self.port = port
        self.context = ssl.create_default_context(cafile=str(ca))
        self.context.load_cert_chain(str(client.cert), str(client.key))

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        conn = http.client.HTTPSConnection(
            LOCALHOST, self.port, context=self.context, timeout=5
        )
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"text": raw.decode(errors="replace")}
        return response.status, data if isinstance(data, dict) else {}


def _http_ok(port: int, path: str) -> bool:
    """True if a plain-HTTP GET on 127.0.0.1 answers 200 (etcd's health)."""
    conn = http.client.HTTPConnection(LOCALHOST, port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


class ControlPlane:
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK
    running as processes under one state directory.

    Everything lives in ``state_dir``: certificates (``pki/``), kubeconfigs,
    etcd data, one log per component (``logs/``), the audit log and
    ``state.json`` with the ports and process ids, which lets another process
    (``localplane.py down``) stop a plane it did not start.
    """

    def __init__(self, state_dir: Path, cache_dir: Path | None = None) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.cache_dir = (cache_dir or cache_dir_default()).resolve()
        self.binaries = binary_paths(self.cache_dir)
        self.pki = _Pki(self.state_dir / "pki")
        self.log_dir = self.state_dir / "logs"
        self.admin_kubeconfig: Path = self.state_dir / "admin.kubeconfig"
        self.audit_log: Path = self.log_dir / "audit.log"
        self.startup_seconds: float | None = None
        self._state_file = self.state_dir / "state.json"
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # -- state ---------------------------------------------------------------

    def _read_state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self._state_file.read_text())
        except FileNotFoundError:
            return {}
        return state

    def _write_state(self, state: dict[str, Any]) -> None:
        self._state_file.write_text(json.dumps(state, indent=2) + "\n")

    @property
    def server_url(self) -> str:
        """The apiserver's URL, known once the plane has been started."""
        url = self._read_state().get("server_url")
        if not url:
            raise ControlPlaneError(f"no control plane was started in {self.state_dir}")
        return str(url)

    def running(self) -> dict[str, bool]:
        """Whether each component recorded in ``state.json`` is still alive."""
        pids: dict[str, int] = self._read_state().get("pids", {})
        return {
            name: _pid_runs(pid, str(self.binaries[name])) for name, pid in pids.items()
        }

    # -- kubeconfigs ---------------------------------------------------------

    def user_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig for ``user`` in ``groups``, authenticated by a client
        certificate signed by the client CA (the apiserver trusts it as is)."""
        pair = self.pki.client(user, groups)
        path = pair.cert.parent / f"{pair.cert.stem}.kubeconfig"
        ca = self.pki.serving_ca.cert
        return _write_kubeconfig(path, self.server_url, ca, pair, user)

    def _component_kubeconfig(
        self, name: str, user: str, groups: Sequence[str] = ()
    ) -> Path:
        path = self.state_dir / f"{name}.kubeconfig"
        pair = self.pki.client(user, groups)
        ca = self.pki.serving_ca.cert
        return _write_kubeconfig(path, self.server_url, ca, pair, user)

    # -- start ---------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        """Start every component and wait until the plane can run pods.

        Ready means: the apiserver answers ``/readyz``, the controller manager
        has published ``kube-root-ca.crt`` into ``default``, the KWOK node is
        Ready and the default StorageClass exists. Raises ControlPlaneError with
        the failing component's log tail, after stopping whatever did start.
        """
        if any(self.running().values()):
            raise ControlPlaneError(
                f"a control plane is already running in {self.state_dir};"
                " stop it first (localplane.py down)"
            )
        missing = [str(p) for p in self.binaries.values() if not p.is_file()]
        if missing:
            raise ControlPlaneError(
                "control plane binaries are not built: "
                + ", ".join(missing)
                + "; run `python hack/localplane.py build` first"
            )

        began = time.monotonic()
        deadline = began + timeout
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pki.ensure()
        try:
            self._start(deadline)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        log.info(
            "control plane ready in %.1f s at %s", self.startup_seconds, self.server_url
        )

    def _start(self, deadline: float) -> None:
        etcd_port, etcd_peer_port, api_port = _free_port(), _free_port(), _free_port()
        server_url = f"https://{LOCALHOST}:{api_port}"
        self._write_state({"server_url": server_url, "pids": {}})

        self._spawn("etcd", self._etcd_args(etcd_port, etcd_peer_port))
        self._wait("etcd", deadline, lambda: _http_ok(etcd_port, "/health"))

        self._spawn("kube-apiserver", self._apiserver_args(etcd_port, api_port))
        admin = self.pki.client("admin", ["system:masters"])
        ca = self.pki.serving_ca.cert
        _write_kubeconfig(self.admin_kubeconfig, server_url, ca, admin, "admin")
        api = _Api(api_port, ca, admin)
        self._wait("kube-apiserver", deadline, lambda: _api_ok(api, "/readyz"))

        self._spawn("kube-controller-manager", self._controller_manager_args())
        self._spawn("kube-scheduler", self._scheduler_args())
        # KWOK also reads ~/.kwok/kwok.yaml; a private HOME keeps a developer's
        # own KWOK configuration out of the tests.
        kwok_home = self.state_dir / "kwok"
        kwok_home.mkdir(exist_ok=True)
        self._spawn("kwok", self._kwok_args(), env={"HOME": str(kwok_home)})

        _create(api, "/api/v1/nodes", _node_manifest())
        _create(
            api, "/apis/storage.k8s.io/v1/storageclasses", _storage_class_manifest()
        )
        self._wait(
            "kube-controller-manager",
            deadline,
            lambda: _api_ok(
                api, "/api/v1/namespaces/default/configmaps/kube-root-ca.crt"
            ),
        )
        self._wait("kwok", deadline, lambda: _node_ready(api, NODE_NAME))

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> None:
        """Start one component in its own session, logging to ``logs/<name>.log``.

        Its own session keeps a Ctrl-C in the terminal from reaching it, so the
        owner stops the plane in order, and lets stop() signal the whole group.
        """
        # Limitation: if the owning process is killed outright, the components
        # outlive it until `localplane.py down --state-dir <dir>` is run.
        child_env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        if env:
            child_env.update(env)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                [str(self.binaries[name]), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                env=child_env,
                start_new_session=True,
            )
        self._procs[name] = proc
        state = self._read_state()
        state["pids"][name] = proc.pid
        self._write_state(state)

    def _wait(self, name: str, deadline: float, ready: Callable[[], bool]) -> None:
        """Poll ``ready`` every 0.2 s until the deadline, failing fast if any
        started component has exited."""
        while True:
            for proc_name, proc in self._procs.items():
                code = proc.poll()
                if code is not None:
                    raise ControlPlaneError(
                        f"{proc_name} exited with code {code} while waiting for"
                        f" {name}; last lines of {self.log_dir / proc_name}.log:\n"
                        + _tail(self.log_dir / f"{proc_name}.log")
                    )
            if ready():
                log.info("%s ready", name)
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"{name} was not ready in time; last lines of its log:\n"
                    + _tail(self.log_dir / f"{name}.log")
                )
            time.sleep(0.2)

    def _etcd_args(self, port: int, peer_port: int) -> list[str]:
        client_url = f"http://{LOCALHOST}:{port}"
        peer_url = f"http://{LOCALHOST}:{peer_port}"
        args = [
            "--name=kubarr-local",
            f"--data-dir={self.state_dir / 'etcd'}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=kubarr-local={peer_url}",
            "--log-level=warn",
        ]
        help_text = subprocess.run(
            [str(self.binaries["etcd"]), "--help"],
            capture_output=True,
            text=True,
            check=False,
        )
        # Losing the last writes on a crash is fine for a throwaway test plane,
        # and skipping fsync keeps etcd from dominating test time on slow disks.
        if "--unsafe-no-fsync" in help_text.stdout + help_text.stderr:
            args.append("--unsafe-no-fsync")
        return args

    def _apiserver_args(self, etcd_port: int, port: int) -> list[str]:
        policy = self.state_dir / "audit-policy.yaml"
        policy.write_text(AUDIT_POLICY)
        pki = self.pki
        return [
            f"--etcd-servers=http://{LOCALHOST}:{etcd_port}",
            f"--bind-address={LOCALHOST}",
            f"--secure-port={port}",
            # Advertising 127.0.0.1 keeps the host's own address out of every
            # object; Endpoints reject loopback addresses, so the apiserver
            # must not try to write its own.
            f"--advertise-address={LOCALHOST}",
            "--endpoint-reconciler-type=none",
            f"--tls-cert-file={pki.apiserver.cert}",
            f"--tls-private-key-file={pki.apiserver.key}",
            f"--client-ca-file={pki.client_ca.cert}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--service-account-issuer=https://localhost",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--audit-policy-file={policy}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
            "--audit-log-maxsize=100",
            "--audit-log-maxbackup=3",
            "--audit-log-maxage=1",
            "--profiling=false",
        ]

    def _controller_manager_args(self) -> list[str]:
        kubeconfig = self._component_kubeconfig(
            "controller-manager", "system:kube-controller-manager"
        )
        return [
            f"--kubeconfig={kubeconfig}",
            f"--root-ca-file={self.pki.serving_ca.cert}",
            f"--service-account-private-key-file={self.pki.service_account_key}",
            "--use-service-account-credentials=true",
            "--leader-elect=false",
            # On a loaded two-core machine KWOK's node heartbeat can arrive
            # late; the node lifecycle controller would then mark the fake node
            # NotReady and every pod on it unready, and KWOK never readies them
            # again. The controller stays on (it lifts the not-ready taint of
            # a new node) but waits an hour before calling a node lost.
            # Limitation: a lost node is not simulated.
            "--node-monitor-grace-period=1h",
            # Nothing needs its metrics or health endpoints; no port is opened.
            "--secure-port=0",
            f"--bind-address={LOCALHOST}",
            "--profiling=false",
        ]

    def _scheduler_args(self) -> list[str]:
        kubeconfig = self._component_kubeconfig("scheduler", "system:kube-scheduler")
        config = self.state_dir / "scheduler-config.yaml"
        config.write_text(SCHEDULER_CONFIG.format(kubeconfig=kubeconfig))
        return [
            f"--config={config}",
            "--secure-port=0",
            f"--bind-address={LOCALHOST}",
            "--profiling=false",
        ]

    def _kwok_args(self) -> list[str]:
        # KWOK writes node status, node leases and pod status and deletes pods;
        # a local test plane gives it full rights rather than a hand-kept role.
        kubeconfig = self._component_kubeconfig("kwok", "kwok", ["system:masters"])
        stages = self.state_dir / "kwok-stages.yaml"
        stages.write_text(kwok_stages())
        return [
            f"--kubeconfig={kubeconfig}",
            f"--config={stages}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--cidr={POD_CIDR}",
            f"--node-ip={LOCALHOST}",
        ]

    # -- stop ----------------------------------------------------------------

    def stop(self) -> None:
        """Stop every component this state directory records, last started
        first: SIGTERM to its process group, SIGKILL after a grace period, and
        wait until each is gone. Safe to call twice or on a stopped plane."""
        state = self._read_state()
        pids: dict[str, int] = state.get("pids", {})
        for name in reversed(COMPONENTS):
            pid = pids.get(name)
            if pid is None:
                continue
            self._stop_one(name, pid)
            del pids[name]
            self._write_state(state)
        self._procs.clear()

    def _stop_one(self, name: str, pid: int) -> None:
        proc = self._procs.get(name)
        binary = str(self.binaries[name])
        if proc is None and not _pid_runs(pid, binary):
            return

        def gone() -> bool:
            if proc is not None:
                return proc.poll() is not None
            return not _pid_runs(pid, binary)

        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                # Each component leads its own session, so its group id is its
                # pid; the group takes any helper it forked along with it.
                os.killpg(pid, sig)
            except ProcessLookupError:
                return
            end = time.monotonic() + STOP_GRACE_SECONDS
            while time.monotonic() < end:
                if gone():
                    return
                time.sleep(0.1)
            log.warning("%s (pid %d) ignored %s", name, pid, sig.name)


def _api_ok(api: _Api, path: str) -> bool:
    try:
        status, _ = api.call("GET", path)
    except (OSError, http.client.HTTPException):
        return False
    return status == 200


def _create(api: _Api, path: str, manifest: dict[str, Any]) -> None:
    """POST ``manifest``; an existing object (a restart on old data) is fine."""
    status, body = api.call("POST", path, manifest)
    if status not in (200, 201, 409):
        raise ControlPlaneError(f"creating {path} failed ({status}): {body}")


def _node_ready(api: _Api, name: str) -> bool:
    try:
        status, node = api.call("GET", f"/api/v1/nodes/{name}")
    except (OSError, http.client.HTTPException):
        return False
    if status != 200:
        return False
    for condition in node.get("status", {}).get("conditions", []):
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _node_manifest() -> dict[str, Any]:
    """The one fake node: no taint, so ordinary pods schedule onto it."""
    resources = {"cpu": "32", "memory": "256Gi", "pods": "1000"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        # A node's status is accepted on create; KWOK keeps these values.
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "addresses": [
                {"type": "InternalIP", "address": LOCALHOST},
                {"type": "Hostname", "address": NODE_NAME},
            ],
        },
    }


def _storage_class_manifest() -> dict[str, Any]:
    """The default StorageClass, so claims without a class get one as on a
    real cluster. Its provisioner does not exist, so claims stay Pending."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "kubarr.local/fake",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": True,
        "reclaimPolicy": "Delete",
    }


# --- CLI ---------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``build``, ``up``, ``down``, ``status`` and ``kubeconfig`` for people and
    the Makefile; ``up`` returns once the plane is ready and leaves it running."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", choices=["build", "up", "down", "status", "kubeconfig"]
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("KUBARR_PLANE_DIR", DEFAULT_STATE_DIR)),
        help="where certificates, data and logs live (default: %(default)s)",
    )
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s.%(msecs)03d %(message)s",
        datefmt="%H:%M:%S",
    )

    plane = ControlPlane(args.state_dir)
    try:
        return _run(args.command, plane, args.timeout)
    except (ControlPlaneError, subprocess.CalledProcessError) as error:
        print(f"localplane: {error}", file=sys.stderr)
        return 1


def _run(command: str, plane: ControlPlane, timeout: float) -> int:
    if command == "build":
        build()
    elif command == "up":
        build()
        plane.start(timeout=timeout)
        print(f"control plane ready in {plane.startup_seconds:.1f} s")
        print(f"export KUBECONFIG={plane.admin_kubeconfig}")
    elif command == "down":
        plane.stop()
        print(f"control plane in {plane.state_dir} stopped")
    elif command == "status":
        running = plane.running()
        for name in COMPONENTS:
            print(f"{name:24} {'running' if running.get(name) else 'stopped'}")
        return 0 if running and all(running.values()) else 1
    else:
        print(plane.admin_kubeconfig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
