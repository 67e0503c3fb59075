"""The Argo CD health check in manifests/argocd runs on real Lua 5.1 (the
language version of Argo CD's interpreter) against sample instances."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa.lua51 as lua51

SCRIPT = (
    Path(__file__).resolve().parents[2] / "manifests" / "argocd" / "kubarr-health.lua"
)


def health(obj: dict[str, Any]) -> tuple[str, str]:
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    check = runtime.eval(f"function(obj)\n{SCRIPT.read_text()}\nend")

    def to_lua(value: Any) -> Any:
        if isinstance(value, dict):
            return runtime.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return runtime.table_from([to_lua(v) for v in value])
        return value

    result = check(to_lua(obj))
    return result["status"], result["message"]


def instance(phase: str, generation: int = 2, observed: int = 2, **conditions: Any):
    return {
        "metadata": {"generation": generation},
        "status": {
            "observedGeneration": observed,
            "phase": phase,
            "conditions": [
                {"type": t, "status": s, "reason": r, "message": m}
                for t, (s, r, m) in conditions.items()
            ],
        },
    }


def test_a_ready_instance_is_healthy():
    obj = instance(
        "Ready", Ready=("True", "Ready", "serving"), Stalled=("False", "Reconciled", "")
    )
    assert health(obj) == ("Healthy", "serving")


def test_a_stalled_instance_is_degraded_with_the_reason():
    obj = instance(
        "Stalled",
        Ready=("False", "SecretNotFound", "create it"),
        Stalled=("True", "SecretNotFound", "Secret x does not exist"),
    )
    assert health(obj) == ("Degraded", "Secret x does not exist")


def test_a_failed_upgrade_is_degraded():
    obj = instance(
        "Degraded",
        Ready=("False", "MigrationFailed", "1.0 serves"),
        Stalled=("False", "MigrationFailed", ""),
    )
    assert health(obj)[0] == "Degraded"


def test_an_unobserved_spec_change_is_progressing():
    obj = instance(
        "Ready", generation=3, observed=2, Ready=("True", "Ready", "serving")
    )
    assert health(obj)[0] == "Progressing"


def test_hibernated_and_suspended_instances_are_suspended():
    obj = instance("Hibernated", Ready=("True", "Hibernated", "no pod"))
    assert health(obj) == ("Suspended", "Hibernated")


def test_an_instance_without_status_is_progressing():
    assert health({"metadata": {"generation": 1}})[0] == "Progressing"
