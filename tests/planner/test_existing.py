"""Existing and in-flight capacity is used first, so no second launch for capacity already coming."""

from __future__ import annotations

from luna_autoscaler.models.resources import Resources
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.planner.types import CapacityNode
from tests.planner.conftest import on_demand_catalog, pod, run, types_bought

GIB = 2**30
CAT = on_demand_catalog("m5.large", "m5.xlarge", "g4dn.xlarge")


def gpu_node(name: str, gpus: int, in_flight: bool = True) -> CapacityNode:
    return CapacityNode(
        name=name,
        labels={"node.kubernetes.io/instance-type": "g4dn.xlarge", "nvidia.com/gpu.present": "true"},
        taints=(Taint("nvidia.com/gpu", "present", "NoSchedule"),),
        free=Resources.of(cpu_millis=3920, memory_bytes=14 * GIB, pods=29, extended={"nvidia.com/gpu": gpus}),
        in_flight=in_flight,
    )


def test_pods_an_in_flight_node_will_take_cause_no_new_launch():
    result = run([pod("g", "2", "4Gi", gpus=1)], CAT, nodes=(gpu_node("launching-1", 1),))
    assert result.new_nodes == ()
    assert result.on_existing == {"ns/g": "launching-1"}


def test_only_the_pods_that_do_not_fit_coming_capacity_get_new_nodes():
    pods = [pod(f"g{i}", "1", "2Gi", gpus=1) for i in range(3)]
    result = run(pods, CAT, nodes=(gpu_node("launching-1", 1), gpu_node("launching-2", 1)))
    assert sorted(result.on_existing.values()) == ["launching-1", "launching-2"]
    assert types_bought(result) == ["g4dn.xlarge"]
    assert result.new_nodes[0].pods == ("ns/g2",)


def test_existing_nodes_are_used_only_as_the_scheduler_would():
    cpu = CapacityNode("cpu-1", {"team": "web"}, (), Resources.of(cpu_millis=4000, memory_bytes=8 * GIB, pods=20))
    result = run([pod("wants-ml", node_selector={"team": "ml"})], CAT, nodes=(cpu,))
    assert result.on_existing == {}
    result = run([pod("gpu-pod", "1", "1Gi", gpus=1)], CAT, nodes=(cpu,))  # no GPU free on cpu-1
    assert result.on_existing == {}
    result = run([pod("cpu-pod")], CAT, nodes=(gpu_node("gpu-1", 1),))  # tainted, not tolerated
    assert result.on_existing == {}
    assert types_bought(result) == ["m5.large"]


def test_best_fit_keeps_room_for_bigger_pods():
    roomy = CapacityNode("roomy", {}, (), Resources.of(cpu_millis=4000, memory_bytes=8 * GIB, pods=20))
    tight = CapacityNode("tight", {}, (), Resources.of(cpu_millis=1000, memory_bytes=2 * GIB, pods=20))
    result = run([pod("small", "1", "1Gi"), pod("big", "4", "4Gi")], CAT, nodes=(roomy, tight))
    assert result.on_existing == {"ns/big": "roomy", "ns/small": "tight"}
    assert result.new_nodes == ()
