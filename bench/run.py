"""Run the benchmark suite and regenerate ``docs/benchmarks.md``.

    python bench/run.py [--quick] [--only operator|app|durability ...]

Areas run one after another, never side by side, so they do not compete for
the machine's two cores. Every process the suite starts is stopped before it
exits, also when an area fails or the run is interrupted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import report
from common import REPO, Area, Processes, jsonable

AREAS = ("operator", "app", "durability")

LIMITATIONS = [
    "The machine is shared: other engineers' tests ran at the same time, so "
    "absolute figures move between runs; ratios measured in one run are the "
    "steadier numbers.",
    "The control plane is local and KWOK plays the kubelet: no image is "
    "pulled and no container runs, so apply-to-Ready leaves out image pulls, "
    "the app's start and its readiness probe on a real node.",
    "Requests per reconcile are counted from the API server's audit log, "
    "which records every request at the Metadata level; the operator's watch "
    "connections count once each, at the time they end.",
    "The load generator is one Python process with one keep-alive connection, "
    "sending one request at a time: it measures latency and the throughput a "
    "single client sees, not the server's saturation point with many clients.",
    "The recovery point is measured to the moment the new LTX file is listed "
    "in the bucket (polled every 20 ms), not to a read by a restoring node.",
    "The S3 server is moto on 127.0.0.1: no network latency or bandwidth "
    "limit, so restore and recovery-point figures are lower bounds for "
    "Backblaze B2, MinIO or AWS S3 over a real network.",
    "Memory figures are resident set sizes from /proc/<pid>/status (VmRSS "
    "now, VmHWM peak); shared library pages count in full for each process.",
    "In --quick mode the 100-instance apply and the restarts run once, and "
    "the largest audit table is 300 K rows instead of 1 M; the report says so.",
]


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into an exception so every ``finally`` stops its processes."""
    raise KeyboardInterrupt(f"signal {signum}")


def _run_area(name: str, runner: Callable[[], list[Area]], areas: list[Area]) -> bool:
    print(f"== {name}", flush=True)
    began = time.monotonic()
    try:
        areas.extend(runner())
    except Exception as error:
        traceback.print_exc()
        failed = Area(name, "This area failed before it finished.")
        failed.error = f"{type(error).__name__}: {error}"
        areas.append(failed)
        return False
    print(f"== {name} took {time.monotonic() - began:.0f} s", flush=True)
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument("--only", action="append", choices=AREAS, default=[])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory and logs"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)

    import app_bench
    import durability_bench
    import operator_bench

    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="kubarr-bench-"))
    procs = Processes()
    machine = report.machine_facts()
    areas: list[Area] = []
    wanted = args.only or list(AREAS)
    runners: dict[str, Callable[[], list[Area]]] = {
        "operator": lambda: operator_bench.run(
            args.quick, work / "operator", procs, machine
        ),
        "app": lambda: app_bench.run(args.quick, work / "app", procs),
        "durability": lambda: durability_bench.run(
            args.quick, work / "durability", procs, machine
        ),
    }
    ok = True
    try:
        for name in AREAS:
            if name in wanted:
                (work / name).mkdir()
                ok = _run_area(name, runners[name], areas) and ok
    finally:
        procs.stop_all()

    total = time.monotonic() - began
    text = report.render(areas, machine, args.quick, total, LIMITATIONS)
    report.write(args.output, text)
    print(f"wrote {args.output} after {total:.0f} s", flush=True)
    if args.keep:
        (work / "results.json").write_text(json.dumps(jsonable(areas), indent=2))
        print(f"work directory kept: {work}", flush=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
