"""Gangs in the planner (whole, in one zone, or not at all) and KAI queue admission, on hand-made catalogs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from luna_autoscaler.errors import ManifestError
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.models.workloads import (
    Gang,
    GroupKind,
    PodGroup,
    gangs,
    pod_group_from_manifest,
    queue_from_manifest,
)
from luna_autoscaler.planner.gangs import GangSpec, plan_gangs
from luna_autoscaler.planner.queues import admit
from luna_autoscaler.planner.types import CapacityNode, Limits, PlanRequest
from tests.planner.conftest import ZONES, catalog, offering, pod

GPU = [{"key": "nvidia.com/gpu", "operator": "Exists"}]


def _members(n: int, gpus: int = 1) -> list:
    return [
        pod(f"w{i}", "2", "8Gi", gpus=gpus, tolerations=GPU, annotations={"pod-group-name": "job"}) for i in range(n)
    ]


def _spec(pods: list, needed: int | None = None) -> GangSpec:
    return GangSpec("kai:ns/job", tuple(p.key for p in pods), len(pods) if needed is None else needed, len(pods))


def test_a_gang_goes_whole_to_the_zone_where_it_is_cheapest() -> None:
    # g4dn.12xlarge (4 GPUs) exists only in zone b; in zone a each pod needs its own g4dn.xlarge.
    cat = catalog(offering("g4dn.xlarge", ZONES[0], price=1.2), offering("g4dn.12xlarge", ZONES[1]))
    pods = _members(4)

    result = plan_gangs(PlanRequest(pods=tuple(pods), catalog=cat), [_spec(pods)])

    assert {n.offering.zone for n in result.plan.new_nodes} == {ZONES[1]}
    assert {o.zone for n in result.plan.new_nodes for o in n.alternatives} <= {ZONES[1]}
    assert result.gangs == {"kai:ns/job": tuple(n.name for n in result.plan.new_nodes)}
    assert not result.plan.unplaced


def test_a_gang_planned_in_one_zone_gets_no_fallback_offering_in_another() -> None:
    cat = catalog(*(offering(name, zone) for name in ("g4dn.xlarge", "g4dn.2xlarge") for zone in ZONES))
    pods = _members(2)

    result = plan_gangs(PlanRequest(pods=tuple(pods), catalog=cat), [_spec(pods)])

    (zone,) = {n.offering.zone for n in result.plan.new_nodes}
    assert all(n.alternatives for n in result.plan.new_nodes)
    assert {o.zone for n in result.plan.new_nodes for o in n.alternatives} == {zone}


def test_a_gang_no_single_zone_can_hold_gets_nothing() -> None:
    # Two 1-GPU nodes per zone at most (maxNodes would be per plan; here the catalog has one type per zone and the
    # pods pin themselves to at most two nodes' worth by a zone selector on half of them).
    cat = catalog(offering("g4dn.xlarge", ZONES[0]), offering("g4dn.xlarge", ZONES[1]))
    pods = _members(4)
    split = [
        replace(p, node_selector=pod("x", node_selector={"topology.kubernetes.io/zone": z}).node_selector)
        for p, z in zip(pods, (ZONES[0], ZONES[0], ZONES[1], ZONES[1]), strict=True)
    ]

    result = plan_gangs(PlanRequest(pods=tuple(split), catalog=cat), [_spec(split)])

    assert result.plan.new_nodes == () and result.gangs == {}
    assert sorted(u.pod for u in result.plan.unplaced) == sorted(p.key for p in split)
    assert all("needs 4 of its pods placed together in one zone" in u.reason for u in result.plan.unplaced)


def test_an_elastic_gang_is_bought_when_its_minimum_fits() -> None:
    cat = catalog(offering("g4dn.xlarge", ZONES[0]))
    pods = _members(3)
    too_big = pod("w9", "2", "8Gi", gpus=8, tolerations=GPU, annotations={"pod-group-name": "job"})

    result = plan_gangs(PlanRequest(pods=(*pods, too_big), catalog=cat), [_spec([*pods, too_big], needed=3)])

    assert len(result.plan.new_nodes) == 3
    assert [u.pod for u in result.plan.unplaced] == ["ns/w9"]


def test_limits_hold_a_gang_back_whole_and_leave_the_rest_to_other_pods() -> None:
    cat = catalog(offering("g4dn.xlarge"), offering("m5.large"))
    pods = _members(4)
    web = pod("web")

    result = plan_gangs(PlanRequest(pods=(*pods, web), catalog=cat, limits=Limits(nodes=3)), [_spec(pods)])

    assert [n.pods for n in result.plan.new_nodes] == [("ns/web",)]
    assert all("held back by cluster limit maxNodes" in u.reason for u in result.plan.unplaced)


def test_existing_capacity_a_gang_takes_is_not_offered_twice() -> None:
    cat = catalog(offering("g4dn.xlarge"))
    free = Resources.parse({"cpu": "4", "memory": "16Gi", "pods": "29", "nvidia.com/gpu": "1"})
    node = CapacityNode("gpu-1", {"topology.kubernetes.io/zone": ZONES[0]}, (), free)
    pods = _members(2)
    loner = pod("loner", "2", "8Gi", gpus=1, tolerations=GPU)

    result = plan_gangs(PlanRequest(pods=(*pods, loner), catalog=cat, nodes=(node,)), [_spec(pods)])

    assert list(result.plan.on_existing.values()) == ["gpu-1"]
    assert len(result.plan.new_nodes) == 2  # one for the gang's second pod, one for the loner


def test_gangs_come_from_pod_groups_and_count_running_members() -> None:
    running = replace(_members(1)[0], name="w-running", node_name="n1", phase="Running")
    pending = _members(3)
    group = PodGroup(GroupKind.KAI, "ns", "job", 3)

    (gang,) = gangs([running, *pending], pending, [group])

    assert (gang.key, gang.min_member, gang.running, gang.needed) == ("kai:ns/job", 3, 1, 2)
    assert gangs([running, *pending], pending, [PodGroup(GroupKind.KAI, "ns", "job", 1)]) == ()


def test_a_malformed_pod_group_names_its_field() -> None:
    bad = {"apiVersion": "scheduling.x-k8s.io/v1alpha1", "kind": "PodGroup", "metadata": {"name": "g"}, "spec": {}}
    bad["spec"]["minMember"] = "many"
    with pytest.raises(ManifestError, match=r"PodGroup /g: spec.minMember: expected a whole number"):
        pod_group_from_manifest(bad)


def _queue(name: str, *, parent: str = "", quota: float = -1, limit: float = -1, weight: float = 1) -> object:
    spec = {"resources": {"gpu": {"quota": quota, "limit": limit, "overQuotaWeight": weight}}, "parentQueue": parent}
    return queue_from_manifest(
        {"apiVersion": "scheduling.run.ai/v2", "kind": "Queue", "metadata": {"name": name}, "spec": spec}
    )


def _in_queue(name: str, queue: str, gpus: int = 1, **kw: object):
    p = pod(name, gpus=gpus, tolerations=GPU)
    return replace(p, labels={"kai.scheduler/queue": queue}, **kw)


def test_a_parent_queue_limit_holds_its_children() -> None:
    queues = [_queue("org", limit=4), _queue("team", parent="org")]
    bound = [replace(_in_queue("busy", "team", gpus=3), node_name="n1")]
    first, second = _in_queue("a", "team", priority=10), _in_queue("b", "team")

    result = admit([second, first], [], bound, queues, [])

    assert [p.key for p in result.admitted] == ["ns/a"]
    (held,) = result.held
    assert (
        held.pod == "ns/b" and "KAI queue org is at its gpu limit: 4 GPUs in use + 1 requested > limit 4" in held.reason
    )


def test_over_quota_needs_a_weight_and_a_missing_queue_holds() -> None:
    queues = [_queue("strict", quota=1, weight=0), _queue("lenient", quota=1, weight=2)]
    pods = [_in_queue("s", "strict", gpus=2), _in_queue("l", "lenient", gpus=2), _in_queue("x", "nowhere")]

    result = admit(pods, [], [], queues, [])

    assert [p.key for p in result.admitted] == ["ns/l"]
    reasons = {u.pod: u.reason for u in result.held}
    assert "overQuotaWeight is 0" in reasons["ns/s"]
    assert "KAI queue nowhere does not exist" in reasons["ns/x"]


def test_a_gang_is_admitted_or_held_as_one() -> None:
    queues = [_queue("team", limit=3)]
    members = [_in_queue(f"w{i}", "team") for i in range(4)]
    gang = Gang("kai:ns/job", 4, tuple(members))

    result = admit(members, [gang], [], queues, [])

    assert result.admitted == () and len(result.held) == 4


def test_a_gang_asking_for_efa_or_a_placement_group_is_marked_for_one() -> None:
    cat = catalog(offering("g4dn.12xlarge", ZONES[0]))
    pods = _members(2)
    efa = [replace(p, requests=p.requests + Resources.of(extended={"vpc.amazonaws.com/efa": 1})) for p in pods]
    annotated = [replace(pods[0], annotations={**pods[0].annotations, "luna.elotl.co/placement-group": "cluster"})]
    gang = Gang("kai:ns/job", 2, tuple(pods))

    assert not GangSpec.of(gang).placement
    assert GangSpec.of(replace(gang, pending=tuple(efa))).placement
    assert GangSpec.of(gang, [*annotated, pods[1]]).placement
    result = plan_gangs(PlanRequest(pods=tuple(pods), catalog=cat), [GangSpec.of(gang, [*annotated, pods[1]])])
    assert result.placement == {"kai:ns/job"} and result.gangs
