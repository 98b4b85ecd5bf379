"""Effective pod requests as the scheduler computes them (k8s component-helpers resource.PodRequests)."""

from typing import Any

import pytest

from luna_autoscaler.errors import ManifestError
from luna_autoscaler.models.manifest import effective_requests, node_from_manifest, pod_from_manifest
from luna_autoscaler.models.resources import Resources


def c(name: str, restart: str | None = None, extra: dict[str, str] | None = None, **requests: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "resources": {"requests": {**requests, **(extra or {})}}}
    if restart:
        container["restartPolicy"] = restart
    return container


def test_sum_of_containers_plus_one_pod_slot() -> None:
    r = effective_requests({"containers": [c("a", cpu="500m", memory="1Gi"), c("b", cpu="250m", memory="512Mi")]})
    assert (r.cpu_millis, r.memory_bytes, r.pods) == (750, 1536 * 2**20, 1)


def test_init_container_peak_dominates_when_larger() -> None:
    r = effective_requests({"containers": [c("a", cpu="1")], "initContainers": [c("init", cpu="3", memory="1Gi")]})
    assert r.cpu_millis == 3000
    assert r.memory_bytes == 2**30


def test_restartable_sidecars_add_to_main_and_to_later_init_containers() -> None:
    spec = {
        "containers": [c("main", cpu="1")],
        "initContainers": [
            c("sidecar", restart="Always", cpu="500m"),
            c("migrate", cpu="2"),  # runs while the sidecar runs: 2 + 0.5
        ],
    }
    assert effective_requests(spec).cpu_millis == 2500
    spec["initContainers"][1] = c("migrate", cpu="100m")
    assert effective_requests(spec).cpu_millis == 1500  # main + sidecar


def test_overhead_is_added() -> None:
    spec = {"containers": [c("a", cpu="1", memory="1Gi")], "overhead": {"cpu": "250m", "memory": "120Mi"}}
    r = effective_requests(spec)
    assert (r.cpu_millis, r.memory_bytes) == (1250, 2**30 + 120 * 2**20)


def test_limits_default_missing_requests_and_extended_resources_by_name() -> None:
    spec = {
        "containers": [
            {"name": "a", "resources": {"limits": {"nvidia.com/gpu": 2, "cpu": "4"}, "requests": {"cpu": "1"}}},
            {"name": "b", "resources": {"limits": {"nvidia.com/mig-1g.10gb": "1", "aws.amazon.com/neuron": 1}}},
            c("d", extra={"nvidia.com/gpu.shared": "1", "amd.com/gpu": "1"}),
        ]
    }
    r = effective_requests(spec)
    assert r.cpu_millis == 1000
    assert dict(r.extended) == {
        "amd.com/gpu": 1,
        "aws.amazon.com/neuron": 1,
        "nvidia.com/gpu": 2,
        "nvidia.com/gpu.shared": 1,
        "nvidia.com/mig-1g.10gb": 1,
    }
    assert r.gpus() == 6


def test_unknown_extended_resources_are_not_gpus() -> None:
    r = Resources.parse({"example.com/foo": "3", "hugepages-2Mi": "64Mi"})
    assert r.gpus() == 0
    assert r.get("hugepages-2Mi") == 64 * 2**20


def test_bad_quantity_names_pod_container_and_value() -> None:
    pod = {
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": {"containers": [c("a", cpu="lots")]},
    }
    with pytest.raises(ManifestError) as err:
        pod_from_manifest(pod)
    message = str(err.value)
    assert "prod/web" in message and "containers[0]" in message and "'lots'" in message


def test_fractional_gpu_request_is_rejected() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [c("a", extra={"nvidia.com/gpu": "0.5"})]}}
    with pytest.raises(ManifestError, match=r"nvidia\.com/gpu"):
        pod_from_manifest(pod)


def test_pod_scheduling_fields() -> None:
    pod = pod_from_manifest(
        {
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ml", "annotations": {"pod.elotl.co/do-not-evict": "true"}},
            "spec": {
                "containers": [c("a", cpu="1")],
                "nodeSelector": {"kubernetes.io/arch": "arm64"},
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "topology.kubernetes.io/zone",
                                            "operator": "In",
                                            "values": ["us-east-1a"],
                                        }
                                    ]
                                },
                                {
                                    "matchExpressions": [
                                        {"key": "karpenter.sh/capacity-type", "operator": "NotIn", "values": ["spot"]}
                                    ]
                                },
                            ]
                        }
                    }
                },
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "schedulingGates": [{"name": "nodecostestimate"}],
            },
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
            },
        }
    )
    assert pod.unschedulable and pod.scheduling_gates == ("nodecostestimate",)
    assert pod.blocks_eviction == "pod.elotl.co/do-not-evict=true"
    arm_a = {
        "kubernetes.io/arch": "arm64",
        "topology.kubernetes.io/zone": "us-east-1a",
        "karpenter.sh/capacity-type": "spot",
    }
    assert pod.node_selector.matches(arm_a)
    assert not pod.node_selector.matches({**arm_a, "topology.kubernetes.io/zone": "us-east-1b"})
    assert pod.node_selector.matches(
        {**arm_a, "topology.kubernetes.io/zone": "b", "karpenter.sh/capacity-type": "on-demand"}
    )
    assert not pod.node_selector.matches({**arm_a, "kubernetes.io/arch": "amd64"})


def test_node_manifest() -> None:
    node = node_from_manifest(
        {
            "kind": "Node",
            "metadata": {"name": "ip-10-0-0-1", "labels": {"node.kubernetes.io/instance-type": "g4dn.xlarge"}},
            "spec": {
                "providerID": "aws:///us-east-1a/i-0abc",
                "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}],
            },
            "status": {
                "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "29", "nvidia.com/gpu": "1"},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }
    )
    assert node.ready and node.instance_type == "g4dn.xlarge"
    assert node.allocatable.extended["nvidia.com/gpu"] == 1
    assert str(node.taints[0]) == "nvidia.com/gpu=present:NoSchedule"


@pytest.mark.parametrize(
    ("read", "obj", "named"),
    [
        (node_from_manifest, {"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "lots"}}}, "Node"),
        (node_from_manifest, {"kind": "Node", "metadata": {"name": "n1"}, "status": {"allocatable": []}}, "Node"),
        (pod_from_manifest, {"metadata": {"name": "n1", "namespace": "ml"}, "spec": {"containers": "x"}}, "Pod"),
    ],
)
def test_a_bad_object_is_named_once_by_its_kind_even_when_the_json_has_none(read: Any, obj: Any, named: str) -> None:
    with pytest.raises(ManifestError) as raised:
        read(obj)
    namespace = obj["metadata"].get("namespace", "default")
    assert str(raised.value).startswith(f"{named} {namespace}/n1: ")  # not "Node Node ...", not "object ..."
