"""``make demo``: the operator reconciling a KubarrInstance, end to end.

Uses the cluster ``$KUBECONFIG`` points at when it answers; otherwise builds
(first time only) and starts the local control plane from ``hack/localplane.py``.
Then installs the CRD and RBAC, starts the operator, applies
``examples/minimal.yaml``, waits for Ready and prints what was made.

On the local control plane KWOK plays the kubelet: pods are reported Running
and Ready, but no container runs (there is no container runtime here).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "hack"))

from localplane import DEFAULT_STATE_DIR, ControlPlane, build  # noqa: E402
from operator_identity import OPERATOR_USER, operator_user_bindings  # noqa: E402

NAMESPACE = "kubarr-demo"
OPERATOR_LOG = REPO / ".demo" / "operator.log"


def kubectl_binary() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    return found or "kubectl"


def kubectl(
    kubeconfig: Path, *args: str, input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [kubectl_binary(), f"--kubeconfig={kubeconfig}", *args],
        input=input,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    if check and result.returncode != 0:
        sys.exit(f"kubectl {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result


def reachable(kubeconfig: str) -> bool:
    result = subprocess.run(
        [
            kubectl_binary(),
            f"--kubeconfig={kubeconfig}",
            "version",
            "--request-timeout=5s",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return result.returncode == 0


def local_plane() -> ControlPlane:
    plane = ControlPlane(DEFAULT_STATE_DIR)
    components = plane.running()
    if components and all(components.values()):
        print(f"using the running local control plane in {DEFAULT_STATE_DIR}")
        return plane
    print("building the local control plane if not cached (first time: ~8 min)")
    build()
    plane.stop()  # leftovers of a half-stopped earlier demo
    plane.start()
    print(f"local control plane ready in {plane.startup_seconds:.1f} s")
    return plane


def bind_operator_user(admin: Path) -> None:
    """Bind the shipped ClusterRole and Role to the demo operator's identity."""
    kubectl(
        admin,
        "apply",
        "-f",
        "-",
        input=yaml.safe_dump_all(operator_user_bindings("demo")),
    )


def start_operator(kubeconfig: Path) -> subprocess.Popen[bytes]:
    OPERATOR_LOG.parent.mkdir(parents=True, exist_ok=True)
    log = open(OPERATOR_LOG, "wb")  # noqa: SIM115 - lives as long as the operator
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubarr_operator.main",
            "--lease-namespace",
            "kubarr-system",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_operator(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def down() -> int:
    ControlPlane(DEFAULT_STATE_DIR).stop()
    shutil.rmtree(DEFAULT_STATE_DIR, ignore_errors=True)
    print("demo control plane stopped and its state removed")
    return 0


def demo(wait: bool) -> int:
    external = os.environ.get("KUBECONFIG")
    simulated = True
    if external and reachable(external):
        print(f"using the cluster in KUBECONFIG={external}")
        admin = operator_config = Path(external)
        simulated = False
    else:
        plane = local_plane()
        admin = plane.admin_kubeconfig
        operator_config = plane.user_kubeconfig(OPERATOR_USER)

    kubectl(
        admin,
        "apply",
        "--server-side",
        "-f",
        str(REPO / "crds" / "kubarr.io_kubarrinstances.yaml"),
    )
    kubectl(
        admin,
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/kubarrinstances.kubarr.io",
    )
    kubectl(
        admin,
        "apply",
        "--server-side",
        "-f",
        str(REPO / "manifests" / "namespace.yaml"),
        "-f",
        str(REPO / "manifests" / "rbac.yaml"),
    )
    if simulated:
        bind_operator_user(admin)

    operator = start_operator(operator_config)
    print(f"operator started (log: {OPERATOR_LOG})")
    try:
        kubectl(admin, "create", "namespace", NAMESPACE, check=False)
        started = time.monotonic()
        kubectl(
            admin,
            "-n",
            NAMESPACE,
            "apply",
            "-f",
            str(REPO / "examples" / "minimal.yaml"),
        )
        waited = kubectl(
            admin,
            "-n",
            NAMESPACE,
            "wait",
            "--for=condition=Ready",
            "--timeout=120s",
            "kubarr/kubarr",
            check=False,
        )
        if waited.returncode != 0:
            print(waited.stderr, file=sys.stderr)
            print(OPERATOR_LOG.read_text()[-3000:], file=sys.stderr)
            return 1
        print(
            f"\nKubarrInstance Ready {time.monotonic() - started:.1f} s after apply\n"
        )
        print("$ kubectl get kubarr -n kubarr-demo -o wide")
        print(kubectl(admin, "-n", NAMESPACE, "get", "kubarr", "-o", "wide").stdout)
        print(
            "$ kubectl get statefulset,job,pod,service,pvc -n kubarr-demo "
            "-l app.kubernetes.io/instance=kubarr"
        )
        print(
            kubectl(
                admin,
                "-n",
                NAMESPACE,
                "get",
                "statefulset,job,pod,service,pvc",
                "-l",
                "app.kubernetes.io/instance=kubarr",
            ).stdout
        )
        if simulated:
            print("Note: this is the local control plane. KWOK simulates the kubelet:")
            print("the pod is reported Running and Ready but no container runs, and")
            print("the volume claim stays Pending (there is no storage provisioner).")
            print(f"Try it yourself:  export KUBECONFIG={admin}")
        if wait and sys.stdin.isatty():
            print(
                "\nThe operator keeps running; press Ctrl-C to stop it. "
                "`make demo-down` removes the control plane."
            )
            try:
                operator.wait()
            except KeyboardInterrupt:
                print("\nstopping the operator")
        return 0
    finally:
        stop_operator(operator)


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the Kubarr operator demo.")
    parser.add_argument("--down", action="store_true", help="stop and clean up")
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="stop the operator right after showing the result",
    )
    args = parser.parse_args()
    if args.down:
        return down()
    return demo(wait=not args.no_wait)


if __name__ == "__main__":
    raise SystemExit(main())
