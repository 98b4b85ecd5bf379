"""Every overlay renders to objects a real API server would accept, wired to the daemon the code really is.

Schemas: kubernetes-validate's bundled OpenAPI schemas, strict (unknown fields are errors), for the oldest and the
newest Kubernetes minor this project supports. The ServiceMonitor is a CRD without a bundled schema; its
selector and port are checked against the Service instead.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from luna_autoscaler.config import Config, config_from_configmap_data, config_keys
from luna_autoscaler.models.scheduling import MANAGED_BY
from providers.oci.config import OciConfig
from tests.deploy.conftest import CLOUD_OF_OVERLAY, DEPLOY, NAMESPACE, REPO, container, find
from tests.deploy.kustomize import CLUSTER_SCOPED_KINDS, Manifest, render

OLDEST_KUBERNETES = "1.30"
NEWEST_KUBERNETES = kubernetes_validate.latest_version()
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]


def render_with_servicemonitor(tmp_path: Path, overlay: str) -> list[Manifest]:
    directory = tmp_path / f"{overlay}-monitored"
    directory.mkdir()
    kustomization = {
        "resources": [os.path.relpath(DEPLOY / "overlays" / overlay, directory)],
        "components": [os.path.relpath(DEPLOY / "components" / "servicemonitor", directory)],
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return render(directory)


@pytest.mark.parametrize("kube_version", [OLDEST_KUBERNETES, NEWEST_KUBERNETES])
@pytest.mark.parametrize("overlay", CLOUD_OF_OVERLAY)
def test_every_object_validates_against_the_kubernetes_schema(
    overlays: dict[str, list[Manifest]], overlay: str, kube_version: str
) -> None:
    problems = []
    for obj in overlays[overlay]:
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {'.'.join(map(str, e.path))}: {e.message}")
    assert not problems, "\n".join(problems)


def test_the_schema_check_catches_a_wrong_field(overlays: dict[str, list[Manifest]]) -> None:
    deployment = find(overlays["eks"], "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, NEWEST_KUBERNETES, strict=True)


@pytest.mark.parametrize("overlay", CLOUD_OF_OVERLAY)
def test_namespaced_objects_live_in_the_autoscaler_namespace(overlays: dict[str, list[Manifest]], overlay: str) -> None:
    for obj in overlays[overlay]:
        expected = "" if obj["kind"] in CLUSTER_SCOPED_KINDS else NAMESPACE
        assert obj["metadata"].get("namespace", "") == expected, obj["kind"]
    assert find(overlays[overlay], "Namespace")["metadata"]["name"] == NAMESPACE


@pytest.mark.parametrize("overlay", CLOUD_OF_OVERLAY)
def test_deployment_is_highly_available_and_locked_down(overlays: dict[str, list[Manifest]], overlay: str) -> None:
    objects = overlays[overlay]
    deployment = find(objects, "Deployment", "luna-autoscaler")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pod["serviceAccountName"] == find(objects, "ServiceAccount")["metadata"]["name"]

    pod_security = pod["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(objects)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert "add" not in security["capabilities"]

    resources = container(objects)["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]

    spread = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
    assert spread == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    pod_labels = spec["template"]["metadata"]["labels"]
    for constraint in pod["topologySpreadConstraints"]:
        assert constraint["labelSelector"]["matchLabels"].items() <= pod_labels.items()


@pytest.mark.parametrize("overlay", CLOUD_OF_OVERLAY)
def test_never_scheduled_on_a_node_it_manages(overlays: dict[str, list[Manifest]], overlay: str) -> None:
    pod = find(overlays[overlay], "Deployment")["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    for term in terms:  # terms are ORed: each one must exclude managed nodes
        assert {"key": MANAGED_BY, "operator": "DoesNotExist"} in term["matchExpressions"]


@pytest.mark.parametrize("overlay", CLOUD_OF_OVERLAY)
def test_pdb_service_and_quota_match_the_pods(overlays: dict[str, list[Manifest]], overlay: str) -> None:
    objects = overlays[overlay]
    deployment = find(objects, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = find(objects, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["maxUnavailable"] < deployment["spec"]["replicas"]

    service = find(objects, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    port_names = {p["name"] for p in container(objects)["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names

    quota = find(objects, "ResourceQuota")
    (expression,) = quota["spec"]["scopeSelector"]["matchExpressions"]
    assert expression["scopeName"] == "PriorityClass"
    assert deployment["spec"]["template"]["spec"]["priorityClassName"] in expression["values"]
    surge = deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    assert int(quota["spec"]["hard"]["pods"]) >= deployment["spec"]["replicas"] + surge


def test_servicemonitor_component_scrapes_the_metrics_service(tmp_path: Path) -> None:
    objects = render_with_servicemonitor(tmp_path, "eks")
    monitor = find(objects, "ServiceMonitor")
    service = find(objects, "Service")
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}
    assert {e["path"] for e in monitor["spec"]["endpoints"]} == {"/metrics"}


@pytest.mark.parametrize("overlay", CLOUD_OF_OVERLAY)
def test_image_is_this_version_built_for_the_overlays_cloud(overlays: dict[str, list[Manifest]], overlay: str) -> None:
    cloud = CLOUD_OF_OVERLAY[overlay]
    assert cloud in PYPROJECT["project"]["optional-dependencies"], f"no extra {cloud} to build the image with"
    assert container(overlays[overlay])["image"] == f"luna-autoscaler:{VERSION}-{cloud}"
    for obj in overlays[overlay]:
        assert obj["metadata"]["labels"]["app.kubernetes.io/version"] == VERSION


# --- The ConfigMap --------------------------------------------------------------------------------------------


def configmap_keys(data: dict[str, str]) -> set[str]:
    """The dotted keys a ConfigMap's data sets, looking inside the values that are whole sections (`aws: |`)."""
    sections = {key.split(".", 1)[0] for key in config_keys() if "." in key}
    keys: set[str] = set()
    for key, raw in data.items():
        value: Any = yaml.safe_load(raw)
        if key in sections:
            assert isinstance(value, dict), f"{key} is a section: give a YAML mapping"
            keys |= {f"{key}.{inner}" for inner in value}
        else:
            keys.add(key)
    return keys


def configmap_data(objects: list[Manifest]) -> dict[str, str]:
    data: dict[str, str] = find(objects, "ConfigMap", "luna-autoscaler-config")["data"]
    return data


def test_base_configmap_sets_every_key_to_its_default() -> None:
    data = configmap_data(render(DEPLOY / "base"))
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"
    expected = {k for k in config_keys() if not k.startswith("fake.")}  # the fake is no cluster's cloud
    found = configmap_keys(data)
    assert found == expected, f"missing: {sorted(expected - found)}; unknown: {sorted(found - expected)}"
    assert config_from_configmap_data(data, source="deploy/base") == Config()


def container_env(objects: list[Manifest]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(objects)["env"] if "value" in e}


def cli_flag(objects: list[Manifest], flag: str) -> str:
    values = [a.split("=", 1)[1] for a in container(objects)["args"] if a.startswith(f"{flag}=")]
    assert len(values) == 1, f"expected one {flag}, found {values}"
    return values[0]


@pytest.mark.parametrize("overlay", CLOUD_OF_OVERLAY)
def test_overlay_configures_its_cloud_for_the_same_cluster(overlays: dict[str, list[Manifest]], overlay: str) -> None:
    cloud = CLOUD_OF_OVERLAY[overlay]
    config = config_from_configmap_data(configmap_data(overlays[overlay]), source=overlay)
    section = config.sections[cloud]
    assert section != type(section)(), f"the {overlay} overlay leaves the {cloud} section at its defaults"
    assert cli_flag(overlays[overlay], "--provider") == cloud
    cluster_name = container_env(overlays[overlay])["LUNA_CLUSTER_NAME"]
    if hasattr(section, "cluster_name"):
        assert section.cluster_name == cluster_name
    # Other clouds' sections stay at their defaults: one overlay, one cloud.
    for other in set(CLOUD_OF_OVERLAY.values()) - {cloud}:
        assert config.sections[other] == Config().sections[other]


# --- Cloud identity --------------------------------------------------------------------------------------------


def service_account_annotations(objects: list[Manifest]) -> dict[str, str]:
    annotations: dict[str, str] = find(objects, "ServiceAccount")["metadata"].get("annotations", {})
    return annotations


def test_eks_uses_irsa(overlays: dict[str, list[Manifest]]) -> None:
    role = service_account_annotations(overlays["eks"])["eks.amazonaws.com/role-arn"]
    assert role.startswith("arn:aws:iam::") and ":role/" in role


def test_gke_uses_workload_identity(overlays: dict[str, list[Manifest]]) -> None:
    account = service_account_annotations(overlays["gke"])["iam.gke.io/gcp-service-account"]
    assert account.endswith(".iam.gserviceaccount.com")
    pod = find(overlays["gke"], "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"iam.gke.io/gke-metadata-server-enabled": "true"}


def test_aks_uses_workload_identity(overlays: dict[str, list[Manifest]]) -> None:
    assert "azure.workload.identity/client-id" in service_account_annotations(overlays["aks"])
    template = find(overlays["aks"], "Deployment")["spec"]["template"]
    assert template["metadata"]["labels"]["azure.workload.identity/use"] == "true"


def test_oke_uses_workload_identity(overlays: dict[str, list[Manifest]]) -> None:
    env = container_env(overlays["oke"])
    assert env["OCI_RESOURCE_PRINCIPAL_VERSION"] == "2.2"
    config = config_from_configmap_data(configmap_data(overlays["oke"]))
    assert env["OCI_RESOURCE_PRINCIPAL_REGION"] == OciConfig.of(config).region


def test_identity_stays_in_its_own_overlay(overlays: dict[str, list[Manifest]]) -> None:
    markers = {
        "eks": "eks.amazonaws.com/",
        "gke": "iam.gke.io/",
        "aks": "azure.workload.identity/",
        "oke": "OCI_RESOURCE_PRINCIPAL",
    }
    for overlay, objects in overlays.items():
        text = yaml.safe_dump_all(objects)
        for other, marker in markers.items():
            assert (marker in text) == (other == overlay), f"{marker} in the {overlay} overlay"
