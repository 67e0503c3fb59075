"""``kubarr operator``: run the KubarrInstance operator."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

import kopf

from . import handlers  # noqa: F401 - registers the kopf handlers
from .kube import Kube, load_credentials
from .leader import LeaderElector
from .runtime import Runtime

log = logging.getLogger("kubarr_operator")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="kubarr operator",
        description="Reconcile KubarrInstance resources into running Kubarr instances.",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); default: all namespaces",
    )
    parser.add_argument(
        "--resync-seconds",
        type=float,
        default=float(os.environ.get("KUBARR_RESYNC_SECONDS", "60")),
        help="reconcile every instance this often even without events (default 60)",
    )
    parser.add_argument(
        "--leader-election",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="take a Lease before acting, so only one replica acts (default on)",
    )
    parser.add_argument(
        "--lease-namespace",
        default=os.environ.get("KUBARR_OPERATOR_NAMESPACE"),
        help="namespace of the leader Lease (default: the operator's own)",
    )
    parser.add_argument(
        "--probe-backups",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("KUBARR_PROBE_BACKUPS", "") in ("1", "true"),
        help="check each S3 replica with the instance's keys (BackupHealthy), "
        "and refuse a new volume beside a non-empty replica in Manual recovery; "
        "the operator then connects to every configured S3 endpoint",
    )
    parser.add_argument(
        "--probe-interval-seconds",
        type=float,
        default=300.0,
        help="how often each replica is checked (default 300; each check is one "
        "billed request)",
    )
    parser.add_argument(
        "--liveness",
        default=None,
        help="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz",
    )
    parser.add_argument(
        "--log-level", default=os.environ.get("KUBARR_LOG_LEVEL", "INFO")
    )
    return parser.parse_args(argv)


async def operate(args: argparse.Namespace) -> int:
    kube = Kube(load_credentials())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    elector = None
    if args.leader_election:
        namespace = args.lease_namespace or kube.credentials.namespace
        elector = LeaderElector(kube, namespace)
        acquire = asyncio.create_task(elector.acquire())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({acquire, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            acquire.cancel()
            return 0
        stopped.cancel()

    lost = asyncio.Event()
    holder = asyncio.create_task(elector.hold(lost)) if elector else None
    stop_flag = asyncio.Event()

    async def relay() -> None:
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(lost.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        stop_flag.set()

    relay_task = asyncio.create_task(relay())
    runtime = Runtime(
        kube,
        resync_seconds=args.resync_seconds,
        probe_backups=args.probe_backups,
        probe_interval=args.probe_interval_seconds,
    )
    try:
        await kopf.operator(
            clusterwide=not args.namespace,
            namespaces=args.namespace,
            standalone=True,
            memo=kopf.Memo(runtime=runtime),
            stop_flag=stop_flag,
            liveness_endpoint=args.liveness,
        )
    finally:
        relay_task.cancel()
        if holder:
            holder.cancel()
        if elector and not lost.is_set():
            await elector.release()
        await kube.close()
    if lost.is_set():
        log.error("lost leadership; exiting so a restart rejoins as standby")
        return 1
    return 0


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # kopf's per-event debug lines drown the operator's own at INFO.
    logging.getLogger("kopf").setLevel(max(logging.INFO, logging.getLogger().level))
    return asyncio.run(operate(args))


if __name__ == "__main__":
    import sys

    raise SystemExit(run(sys.argv[1:]))
