"""The operator's identity on the local control plane.

In a cluster the operator runs as ServiceAccount kubarr-system/kubarr-operator.
On the local control plane it runs outside the cluster with a client
certificate for user ``kubarr-operator``; these bindings give that user exactly
the shipped ClusterRole and Role, so the demo, the tests and the benchmarks all
exercise the RBAC in ``manifests/rbac.yaml`` and nothing more.
"""

from __future__ import annotations

from typing import Any

OPERATOR_USER = "kubarr-operator"
OPERATOR_NAMESPACE = "kubarr-system"


def operator_user_bindings(purpose: str) -> list[dict[str, Any]]:
    """A ClusterRoleBinding and a RoleBinding for the operator user, named
    after ``purpose`` (demo, test, bench) so they can be told apart."""
    subjects = [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": OPERATOR_USER}
    ]
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"kubarr-operator-{purpose}-user"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "kubarr-operator",
            },
            "subjects": subjects,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {
                "name": f"kubarr-operator-leader-{purpose}-user",
                "namespace": OPERATOR_NAMESPACE,
            },
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "kubarr-operator-leader",
            },
            "subjects": subjects,
        },
    ]
