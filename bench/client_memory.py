"""Memory of a Kubernetes client: the official ``kubernetes`` package against
the operator's own aiohttp-based ``kube.py``.

The official client is installed with ``pip install --target`` into a cache
directory outside the repository and outside the project's virtualenv: it
pins a newer ``python-dateutil`` than botocore accepts, so it must never land
in the project's environment. Each probe is a fresh interpreter that loads the
kubeconfig, reads one ConfigMap from the local control plane and reports its
own memory, so both clients are measured doing the same work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from common import REPO, Area, Figure, child_env

KUBERNETES_CLIENT = "37.0.2"

_MEMORY = """
def memory():
    found = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found
"""

PROBES = {
    "bare": _MEMORY + "import json; print(json.dumps(memory()))",
    "kube.py": _MEMORY
    + """
import asyncio, json, sys
from kubarr_operator.kube import Kube, load_kubeconfig

async def main():
    kube = Kube(load_kubeconfig(sys.argv[1]))
    found = await kube.get("v1", "ConfigMap", "default", "kube-root-ca.crt")
    assert found is not None
    await kube.close()

asyncio.run(main())
print(json.dumps(memory()))
""",
    "kubernetes": _MEMORY
    + """
import json, sys
from kubernetes import client, config

config.load_kube_config(sys.argv[1])
found = client.CoreV1Api().read_namespaced_config_map("kube-root-ca.crt", "default")
assert found.metadata.name == "kube-root-ca.crt"
print(json.dumps(memory()))
""",
    "operator imports": _MEMORY
    + """
import json
import kubarr_operator.main
print(json.dumps(memory()))
""",
}


def cache_dir() -> Path:
    env = os.environ.get("KUBARR_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "kubarr"
    return base / "bench" / f"kubernetes-{KUBERNETES_CLIENT}"


def ensure_client() -> Path:
    """Install the official client once into the cache, never into the venv."""
    target = cache_dir()
    if (target / "kubernetes").is_dir():
        return target
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-warn-conflicts",
            "--target",
            str(staging),
            f"kubernetes=={KUBERNETES_CLIENT}",
        ],
        check=True,
        timeout=600,
    )
    staging.rename(target)
    return target


def probe(name: str, kubeconfig: Path, client_dir: Path) -> dict[str, float]:
    paths = [str(REPO / "operator")]
    if name == "kubernetes":
        # The official client's own dependencies first, so nothing it needs is
        # taken from the project's environment.
        paths.insert(0, str(client_dir))
    env = child_env(PYTHONPATH=os.pathsep.join(paths))
    result = subprocess.run(
        [sys.executable, "-c", PROBES[name], str(kubeconfig)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"probe {name} failed: {result.stderr[-1500:]}")
    memory: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return memory


def run(quick: bool, kubeconfig: Path, area: Area) -> None:
    """Add the client-memory figures to ``area`` (the control plane is up)."""
    client_dir = ensure_client()
    rounds = 3 if quick else 5
    samples: dict[str, list[float]] = {name: [] for name in PROBES}
    extra_ratio = []
    for _ in range(rounds):
        measured = {name: probe(name, kubeconfig, client_dir) for name in PROBES}
        for name, memory in measured.items():
            samples[name].append(memory["VmHWM"])
        floor = measured["bare"]["VmHWM"]
        ours = measured["kube.py"]["VmHWM"] - floor
        official = measured["kubernetes"]["VmHWM"] - floor
        extra_ratio.append(official / ours if ours > 0 else float("inf"))

    bare = samples["bare"]
    method = (
        "Fresh interpreter that loads the admin kubeconfig, reads one ConfigMap "
        "from the local control plane and reports its own VmHWM; "
    )
    area.add(
        Figure(
            "bare Python interpreter",
            "MiB",
            bare,
            "VmHWM of `python -c` that imports nothing but json.",
        )
    )
    area.add(
        Figure(
            "official `kubernetes` client, one GET",
            "MiB",
            samples["kubernetes"],
            method + f"kubernetes {KUBERNETES_CLIENT} from a --target directory.",
        )
    )
    area.add(
        Figure(
            "operator's aiohttp `kube.py`, one GET",
            "MiB",
            samples["kube.py"],
            method + "`kubarr_operator.kube.Kube` on aiohttp.",
        )
    )
    area.add(
        Figure(
            "official client's extra memory over kube.py's",
            "x",
            extra_ratio,
            "(client VmHWM - bare VmHWM) / (kube.py VmHWM - bare VmHWM), each "
            "round measured back to back.",
            digits=2,
        )
    )
    import statistics

    bare_mid = statistics.median(bare)
    official_extra = statistics.median(samples["kubernetes"]) - bare_mid
    ours_extra = statistics.median(samples["kube.py"]) - bare_mid
    area.notes.append(
        f"Over a bare interpreter, the official client costs {official_extra:.1f} "
        f"MiB to load a kubeconfig and make one request; `kube.py` costs "
        f"{ours_extra:.1f} MiB, and what it loads (aiohttp, PyYAML, pydantic for "
        "the spec models) the operator loads for kopf and its spec anyway. The "
        "operator therefore keeps its own small client: the official package "
        "would add its generated models and API layer to every operator "
        "process, and it pins a python-dateutil that conflicts with botocore "
        "in this project's environment."
    )
    area.add(
        Figure(
            "every operator import (kopf, pydantic, aiohttp, kube.py)",
            "MiB",
            samples["operator imports"],
            "VmHWM of an interpreter that imports `kubarr_operator.main` and "
            "stops: the floor under the running operator.",
        )
    )
