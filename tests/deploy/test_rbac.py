"""The RBAC in deploy/ grants exactly what the code calls: every (API group, resource, verb) in
`luna_autoscaler.kube.API_CALLS`, which the kube adapter's own tests keep equal to the calls it really makes, and
nothing more. A call added to the adapter without its rule fails here; a rule left behind after a call is removed
fails here too.

Leases and the ConfigMap are read and written in the autoscaler's own namespace only, so they are granted by a
namespaced Role; everything else spans the cluster (pods and Events in every namespace, nodes, PDBs).
"""

from __future__ import annotations

import pytest

from tests.deploy.conftest import CLOUD_OF_OVERLAY, DEPLOY, NAMESPACE, find
from tests.deploy.kustomize import Manifest, render

Grant = tuple[str, str, str]  # (API group, resource, verb), as in API_CALLS
OWN_NAMESPACE_RESOURCES = {("coordination.k8s.io", "leases"), ("", "configmaps")}


def api_calls() -> set[Grant]:
    try:
        from luna_autoscaler.kube import API_CALLS
    except ImportError as e:
        pytest.fail(f"luna_autoscaler.kube.API_CALLS is not available ({e}): the RBAC cannot be derived from the code")
    return {(group, resource, verb) for group, resource, verb in API_CALLS}


def grants(role: Manifest) -> set[Grant]:
    out: set[Grant] = set()
    for rule in role["rules"]:
        assert not rule.get("resourceNames") or set(rule["verbs"]).isdisjoint({"list", "watch", "create"}), (
            "resourceNames cannot restrict list, watch or create"
        )
        for values in (rule["apiGroups"], rule["resources"], rule["verbs"]):
            assert "*" not in values, f"wildcard in {role['kind']} {role['metadata']['name']}: {rule}"
        out |= {(g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    return out


@pytest.fixture(scope="module")
def base() -> list[Manifest]:
    return render(DEPLOY / "base")


def test_rbac_grants_exactly_what_the_code_calls(base: list[Manifest]) -> None:
    cluster_wide = grants(find(base, "ClusterRole"))
    namespaced = grants(find(base, "Role"))
    calls = api_calls()
    granted = cluster_wide | namespaced
    assert not calls - granted, f"the code calls these but RBAC does not grant them: {sorted(calls - granted)}"
    assert not granted - calls, f"RBAC grants these but the code never calls them: {sorted(granted - calls)}"
    assert not cluster_wide & namespaced, f"granted twice: {sorted(cluster_wide & namespaced)}"


def test_own_namespace_resources_are_granted_by_the_role_only(base: list[Manifest]) -> None:
    namespaced = {(g, r) for g, r, _ in grants(find(base, "Role"))}
    cluster_wide = {(g, r) for g, r, _ in grants(find(base, "ClusterRole"))}
    assert namespaced <= OWN_NAMESPACE_RESOURCES
    assert not cluster_wide & OWN_NAMESPACE_RESOURCES


@pytest.mark.parametrize("overlay", CLOUD_OF_OVERLAY)
def test_bindings_give_the_roles_to_the_daemons_service_account(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    objects = overlays[overlay]
    account = find(objects, "ServiceAccount")["metadata"]
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["name"]
    subject = {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    for binding_kind, role_kind in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        binding = find(objects, binding_kind)
        assert binding["subjects"] == [subject]
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role_kind,
            "name": find(objects, role_kind)["metadata"]["name"],
        }
    assert find(objects, "RoleBinding")["metadata"]["namespace"] == NAMESPACE


def test_grants_refuse_wildcards() -> None:
    role = {
        "kind": "ClusterRole",
        "metadata": {"name": "x"},
        "rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}],
    }
    with pytest.raises(AssertionError, match="wildcard"):
        grants(role)
