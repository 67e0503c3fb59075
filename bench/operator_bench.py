"""The operator on the local control plane: apply to Ready, API requests,
memory, and convergence after a restart.

The operator runs as a real process under its own identity (user
``kubarr-operator``, bound to the shipped RBAC), exactly as the integration
tests run it, so the API server's audit log attributes every request it makes.
KWOK plays the kubelet: pods turn Ready without any container running, so the
figures measure the operator and the control plane, not image pulls.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import client_memory
import yaml
from common import (
    REPO,
    VENV_BIN,
    Area,
    Figure,
    Processes,
    child_env,
    memory_mib,
    percentile,
    wait_for,
)
from kubeapi import GROUP_PATH, Api, AuditTail, ReadyWatch, Request, utc_now

sys.path.insert(0, str(REPO / "hack"))
from localplane import K8S_VERSION, ControlPlane
from operator_identity import (
    OPERATOR_NAMESPACE,
    OPERATOR_USER,
    operator_user_bindings,
)

# Long enough that no periodic resync lands inside an apply or restart
# measurement; the resync figures use a short period of their own.
QUIET_RESYNC_SECONDS = 600


@dataclass
class Plan:
    """How many runs of each measurement; --quick trims runs, never sizes."""

    idle_starts: int
    runs: dict[int, int]
    restarts: int
    resync_seconds: int
    resync_cycles: int

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(2, {1: 3, 20: 2, 100: 1}, 1, 10, 2)
        return cls(3, {1: 5, 20: 3, 100: 3}, 3, 15, 3)


@dataclass
class Batch:
    """One run of ``count`` instances applied at once into a fresh namespace."""

    namespace: str
    count: int
    latencies: list[float]
    requests: list[Request]
    missing: int


@dataclass
class OperatorRun:
    """The operator's process, its log and the wall time it was started."""

    process: subprocess.Popen[bytes]
    log: Path
    started: dt.datetime
    lead_seconds: float


@dataclass
class Cluster:
    """The control plane with the CRD and RBAC installed, and the clients."""

    plane: ControlPlane
    admin: Api
    operator_kubeconfig: Path
    audit: AuditTail
    work: Path
    procs: Processes
    instance_spec: dict[str, Any] = field(default_factory=dict)
    version: str = K8S_VERSION

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [
                str(VENV_BIN / "kubectl"),
                f"--kubeconfig={self.plane.admin_kubeconfig}",
                *args,
            ],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr}")
        return result.stdout


def _bindings() -> list[dict[str, Any]]:
    """Bind the shipped roles to the operator's client-certificate identity."""
    return operator_user_bindings("bench")


def install(plane: ControlPlane, work: Path, procs: Processes) -> Cluster:
    """CRD, the operator's namespace and RBAC, and bindings for its identity."""
    admin = Api(plane.admin_kubeconfig)
    cluster = Cluster(
        plane=plane,
        admin=admin,
        operator_kubeconfig=plane.user_kubeconfig(OPERATOR_USER),
        audit=AuditTail(plane.audit_log, OPERATOR_USER),
        work=work,
        procs=procs,
    )
    crd = REPO / "crds" / "kubarr.io_kubarrinstances.yaml"
    cluster.kubectl("apply", "--server-side", "-f", str(crd))
    wait_for(
        lambda: admin.call("GET", f"{GROUP_PATH}/kubarrinstances")[0] == 200,
        60,
        "the CRD to be served",
        interval=0.2,
    )
    for name in ("namespace.yaml", "rbac.yaml"):
        cluster.kubectl("apply", "-f", str(REPO / "manifests" / name))
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(_bindings()))

    example = yaml.safe_load((REPO / "examples" / "minimal.yaml").read_text())
    cluster.instance_spec = example.get("spec") or {}
    version = admin.ok("GET", "/version").get("gitVersion")
    cluster.version = str(version or K8S_VERSION).lstrip("v")
    return cluster


def start_operator(cluster: Cluster, resync: int, label: str) -> OperatorRun:
    """Start the operator and wait until it holds the leader Lease."""
    log = cluster.work / f"operator-{label}.log"
    env = child_env(
        KUBECONFIG=str(cluster.operator_kubeconfig),
        PYTHONPATH=str(REPO / "operator"),
    )
    started = utc_now()
    began = time.monotonic()
    process = cluster.procs.start(
        [
            sys.executable,
            "-m",
            "kubarr_operator.main",
            "--lease-namespace",
            OPERATOR_NAMESPACE,
            "--resync-seconds",
            str(resync),
        ],
        log,
        env=env,
        cwd=REPO,
    )

    def leads() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the operator exited: {log.read_text()[-2000:]}")
        return "now leads" in log.read_text()

    wait_for(leads, 90, "the operator to take the lease", interval=0.05)
    return OperatorRun(process, log, started, time.monotonic() - began)


def instance(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kubarr.io/v1alpha1",
        "kind": "KubarrInstance",
        "metadata": {"name": name},
        "spec": spec,
    }


def instance_names(count: int) -> list[str]:
    return [f"kubarr-{index:03d}" for index in range(count)]


def apply_batch(cluster: Cluster, namespace: str, count: int) -> Batch:
    """Create ``count`` instances one after another and time each from its
    create request to the watch event that shows it Ready."""
    api = cluster.admin
    api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
    timeout = 120 + 3 * count
    watch = ReadyWatch(api, namespace, deadline_seconds=timeout + 30)
    since = utc_now()
    applied: dict[str, float] = {}
    path = f"{GROUP_PATH}/namespaces/{namespace}/kubarrinstances"
    for name in instance_names(count):
        applied[name] = time.monotonic()
        api.ok("POST", path, instance(name, cluster.instance_spec))
    watch.wait_all(set(applied), timeout)
    watch.stop()

    latencies = [
        watch.ready_at[name] - applied[name]
        for name in applied
        if name in watch.ready_at
    ]
    # Trailing requests (the Ready event, the last status write) land just
    # after the watch sees Ready.
    cluster.audit.wait_quiet(namespace, since, quiet=2.0, timeout=30)
    return Batch(
        namespace=namespace,
        count=count,
        latencies=latencies,
        requests=cluster.audit.window(namespace, since),
        missing=count - len(latencies),
    )


def delete_namespace(cluster: Cluster, namespace: str) -> None:
    """Delete and wait until it is gone, so the garbage collector's work does
    not overlap the next measurement."""
    cluster.admin.call("DELETE", f"/api/v1/namespaces/{namespace}")
    wait_for(
        lambda: cluster.admin.call("GET", f"/api/v1/namespaces/{namespace}")[0] == 404,
        300,
        f"namespace {namespace} to be deleted",
        interval=0.5,
    )


def reconciles(requests: list[Request]) -> int:
    """Each reconcile reads the instance's data claim exactly once, first, so
    counting those reads counts reconciles."""
    return sum(
        1
        for r in requests
        if r.verb == "get"
        and r.resource == "persistentvolumeclaims"
        and r.name.endswith("-data")
    )


def reconciled_instances(requests: list[Request]) -> set[str]:
    return {
        r.name.removesuffix("-data")
        for r in requests
        if r.verb == "get" and r.resource == "persistentvolumeclaims"
    }


def writes(requests: list[Request]) -> int:
    return sum(1 for r in requests if r.writes)


def run(
    quick: bool, work: Path, procs: Processes, machine: dict[str, str]
) -> list[Area]:
    """Every operator figure and the client-memory figures, on one control
    plane started here."""
    plan = Plan.make(quick)
    area = Area(
        "Operator on the local control plane",
        "etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK "
        "on 127.0.0.1 (`hack/localplane.py`); the operator runs as its own "
        "process as user `kubarr-operator` with the shipped RBAC; instances use "
        "the spec of `examples/minimal.yaml`.",
    )
    clients = Area(
        "Kubernetes client memory",
        "Which API client the operator carries. The project uses its own "
        "`kube.py` on aiohttp (which kopf already needs) rather than the "
        "official `kubernetes` package; these figures are why.",
    )
    plane = ControlPlane(work / "control-plane")
    began = time.monotonic()
    plane.start(timeout=180)
    try:
        cluster = install(plane, work, procs)
        machine["Kubernetes"] = f"{cluster.version} (local control plane, KWOK)"
        area.notes.append(
            f"Control plane start to ready: {time.monotonic() - began:.1f} s "
            "(included in the suite's total time)."
        )
        _measure(cluster, plan, area)
        print("  client memory probes", flush=True)
        client_memory.run(quick, plane.admin_kubeconfig, clients)
    finally:
        procs.stop_all()
        plane.stop()
    return [area, clients]


def _measure(cluster: Cluster, plan: Plan, area: Area) -> None:
    idle_rss, idle_peak, lead = _idle(cluster, plan)

    operator = start_operator(cluster, QUIET_RESYNC_SECONDS, "apply")
    batches: dict[int, list[Batch]] = {}
    for count, runs in plan.runs.items():
        for index in range(runs):
            namespace = f"bench-{count}-{index}"
            print(f"  applying {count} instance(s) into {namespace}", flush=True)
            batch = apply_batch(cluster, namespace, count)
            batches.setdefault(count, []).append(batch)
            last = count == max(plan.runs) and index == runs - 1
            if not last:
                delete_namespace(cluster, namespace)
    kept = batches[max(plan.runs)][-1].namespace
    full_rss = [memory_mib(operator.process.pid)]
    cluster.procs.stop(operator.process)

    _apply_figures(area, batches)
    full_rss += _restarts(cluster, plan, area, kept)
    resync_rss = _resync(cluster, plan, area, kept)
    full_rss += resync_rss

    area.add(
        Figure(
            "operator lease taken after process start",
            "s",
            lead,
            "Time from starting the operator process (Python start, imports, "
            "kubeconfig) to its log line saying it holds the leader Lease.",
            digits=2,
        )
    )
    area.add(
        Figure(
            "operator RSS, idle (no instances)",
            "MiB",
            idle_rss,
            "VmRSS from /proc/<pid>/status 5 s after the operator took the lease "
            "with no instance in the cluster; one sample per operator start.",
        )
    )
    area.add(
        Figure(
            "operator peak RSS, idle",
            "MiB",
            idle_peak,
            "VmHWM (peak resident set since start) of the same idle processes.",
        )
    )
    area.add(
        Figure(
            "operator RSS with 100 instances",
            "MiB",
            [m["VmRSS"] for m in full_rss],
            "VmRSS of each operator process that reached 100 Ready instances "
            "(after apply, after each restart, after the resync cycles).",
        )
    )
    area.add(
        Figure(
            "operator peak RSS with 100 instances",
            "MiB",
            [m["VmHWM"] for m in full_rss],
            "VmHWM of the same processes: the peak includes applying or "
            "re-reconciling all 100 instances.",
        )
    )


def _idle(cluster: Cluster, plan: Plan) -> tuple[list[float], list[float], list[float]]:
    rss, peak, lead = [], [], []
    for index in range(plan.idle_starts):
        operator = start_operator(cluster, QUIET_RESYNC_SECONDS, f"idle-{index}")
        time.sleep(5)
        memory = memory_mib(operator.process.pid)
        rss.append(memory["VmRSS"])
        peak.append(memory["VmHWM"])
        lead.append(operator.lead_seconds)
        cluster.procs.stop(operator.process)
    return rss, peak, lead


def _apply_figures(area: Area, batches: dict[int, list[Batch]]) -> None:
    for count, runs in batches.items():
        missing = sum(b.missing for b in runs)
        suffix = "" if count == 1 else "s"
        note = f" {missing} instance(s) never turned Ready." if missing else ""
        if count == 1:
            samples = [lat for b in runs for lat in b.latencies]
            area.add(
                Figure(
                    "apply to Ready, 1 instance",
                    "s",
                    samples,
                    "One instance created in an empty namespace; time from its "
                    "create request to the watch event with Ready=True at its "
                    "generation; one sample per run." + note,
                    digits=2,
                )
            )
            continue
        for label, fraction in (("p50", 0.5), ("p95", 0.95)):
            area.add(
                Figure(
                    f"apply to Ready {label}, {count} instance{suffix}",
                    "s",
                    [percentile(b.latencies, fraction) for b in runs if b.latencies],
                    f"{count} instances created back to back in a fresh namespace; "
                    f"{label} of their create-to-Ready times within a run, then "
                    "median/min/max over runs." + note,
                    digits=2,
                )
            )

    for count in (1, max(batches)):
        runs = batches[count]
        per_instance = [len(b.requests) / b.count for b in runs]
        area.add(
            Figure(
                f"API requests from apply to Ready, per instance ({count})",
                "requests",
                per_instance,
                "Requests by user kubarr-operator into the run's namespace, from "
                "the API server's audit log, from the first create until requests "
                "stop for 2 s, divided by the instances.",
            )
        )
        area.add(
            Figure(
                f"writes from apply to Ready, per instance ({count})",
                "requests",
                [writes(b.requests) / b.count for b in runs],
                "The creates, patches (server-side apply, status) and Event "
                "posts among those requests.",
            )
        )
        area.add(
            Figure(
                f"requests per reconcile during apply ({count})",
                "requests",
                [len(b.requests) / max(1, reconciles(b.requests)) for b in runs],
                "Those requests divided by the reconciles among them (each "
                "reconcile reads the instance's data claim once, so those reads "
                "count reconciles).",
            )
        )


def _restarts(
    cluster: Cluster, plan: Plan, area: Area, namespace: str
) -> list[dict[str, float]]:
    """Restart the operator with 100 instances present: once with nothing
    changed, once after every spec changed while it was down."""
    names = set(instance_names(100))
    rss = []
    noop_times, noop_writes, noop_counts = [], [], []
    for index in range(plan.restarts):
        operator = start_operator(cluster, QUIET_RESYNC_SECONDS, f"noop-{index}")
        last = cluster.audit.wait_quiet(
            namespace, operator.started, quiet=3.0, timeout=300
        )
        if last is None:
            raise RuntimeError("the restarted operator sent no request")
        found = cluster.audit.window(namespace, operator.started)
        noop_times.append((last - operator.started).total_seconds())
        noop_writes.append(float(writes(found)))
        noop_counts.append(float(len(reconciled_instances(found) & names)))
        rss.append(memory_mib(operator.process.pid))
        cluster.procs.stop(operator.process)

    changed_times = []
    for index in range(plan.restarts):
        watch = ReadyWatch(cluster.admin, namespace, deadline_seconds=600)
        path = f"{GROUP_PATH}/namespaces/{namespace}/kubarrinstances"
        ttl = {"spec": {"cache": {"endpointTtlSeconds": 61 + index}}}
        for name in sorted(names):
            cluster.admin.ok(
                "PATCH", f"{path}/{name}", ttl, "application/merge-patch+json"
            )
        watch.forget(names)
        began = time.monotonic()
        operator = start_operator(cluster, QUIET_RESYNC_SECONDS, f"changed-{index}")
        converged = watch.wait_all(names, 500)
        watch.stop()
        if converged:
            changed_times.append(max(watch.ready_at.values()) - began)
        rss.append(memory_mib(operator.process.pid))
        cluster.procs.stop(operator.process)

    area.add(
        Figure(
            "converge after operator restart, 100 unchanged instances",
            "s",
            noop_times,
            "Operator stopped and started again with 100 Ready instances; time "
            "from process start to its last request into the namespace before "
            "3 s of quiet (every instance re-read once).",
            digits=1,
        )
    )
    area.add(
        Figure(
            "instances re-checked after that restart",
            "instances",
            noop_counts,
            "Distinct instances whose data claim the restarted operator read.",
            digits=0,
        )
    )
    area.add(
        Figure(
            "writes after that restart",
            "requests",
            noop_writes,
            "Write requests (create, patch, update, delete) by the operator in the "
            "same window; nothing had changed, so there should be none.",
            review="0 (a no-op resync writes nothing)",
            verdict="meets" if not any(noop_writes) else "misses: it wrote",
            digits=0,
        )
    )
    if changed_times:
        area.add(
            Figure(
                "converge after operator restart, 100 changed instances",
                "s",
                changed_times,
                "Every instance's spec patched (a cache TTL, which changes the "
                "pod template) while the operator was down; time from process "
                "start until all 100 read Ready at their new generation.",
            )
        )
    else:
        area.notes.append(
            "The changed-spec restart did not converge within 500 s; no figure."
        )
    return rss


def _resync(
    cluster: Cluster, plan: Plan, area: Area, namespace: str
) -> list[dict[str, float]]:
    """Count the requests of periodic no-op resyncs over 100 Ready instances."""
    period = plan.resync_seconds
    operator = start_operator(cluster, period, "resync")
    cluster.audit.wait_quiet(namespace, operator.started, quiet=2.0, timeout=300)
    # Start the windows right after a resync burst so each holds one burst.
    begin = _next_burst(cluster, namespace, period)
    per_reconcile, writes_per_cycle, per_cycle = [], [], []
    for cycle in range(plan.resync_cycles):
        since = begin + dt.timedelta(seconds=cycle * period)
        until = since + dt.timedelta(seconds=period)
        wait_for(
            lambda until=until: utc_now() > until + dt.timedelta(seconds=1),
            period + 30,
            "a resync cycle",
            interval=0.2,
        )
        found = cluster.audit.window(namespace, since, until)
        count = reconciles(found)
        per_reconcile.append(len(found) / max(1, count))
        writes_per_cycle.append(float(writes(found)))
        per_cycle.append(float(count))
    rss = [memory_mib(operator.process.pid)]
    cluster.procs.stop(operator.process)

    area.add(
        Figure(
            "requests per no-op resync reconcile",
            "requests",
            per_reconcile,
            f"Operator run with --resync-seconds {period} over 100 Ready "
            "instances; audit-log requests in one resync period divided by the "
            "reconciles in it; one sample per period.",
        )
    )
    area.add(
        Figure(
            "reconciles per resync period (100 instances)",
            "reconciles",
            per_cycle,
            "Data-claim reads in the same periods: 100 means each instance was "
            "checked exactly once.",
            digits=0,
        )
    )
    area.add(
        Figure(
            "writes per no-op resync of 100 instances",
            "requests",
            writes_per_cycle,
            "Write requests by the operator in the same periods.",
            review="0 (a no-op resync writes nothing)",
            verdict="meets" if not any(writes_per_cycle) else "misses: it wrote",
            digits=0,
        )
    )
    return rss


def _next_burst(cluster: Cluster, namespace: str, period: int) -> dt.datetime:
    """The time just before the next resync burst starts."""
    mark = utc_now()
    first = wait_for(
        lambda: cluster.audit.window(namespace, mark),
        period * 2 + 30,
        "a resync to start",
        interval=0.1,
    )
    return first[0].at - dt.timedelta(milliseconds=200)
