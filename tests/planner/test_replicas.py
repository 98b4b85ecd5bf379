"""A workload's replicas as one Pod value with a count (Pod.replicas) plan exactly like the pods one by one."""

from __future__ import annotations

import dataclasses

from luna_autoscaler.planner.types import CapacityNode
from tests.planner.conftest import on_demand_catalog, pod, run

CAT = on_demand_catalog("m5.large", "m5.xlarge", "m5.2xlarge", "m5.4xlarge", "c5.large")


def test_replicas_plan_like_the_pods_they_stand_for() -> None:
    template = pod("web", "700m", "1500Mi")
    grouped = [dataclasses.replace(template, replicas=250), pod("big", "6", "20Gi"), pod("web-x", "300m", "1Gi")]
    one_by_one = [dataclasses.replace(template, name=f"web-{i}") for i in range(250)] + grouped[1:]
    a, b = run(grouped, CAT), run(one_by_one, CAT)
    assert [(n.offering, len(n.pods)) for n in a.new_nodes] == [(n.offering, len(n.pods)) for n in b.new_nodes]
    assert sorted(p for n in a.new_nodes for p in n.pods) == sorted(p for n in b.new_nodes for p in n.pods)
    assert a.total_price_usd_per_hour == b.total_price_usd_per_hour and len(a.new_nodes) > 10


def test_replicas_split_between_existing_nodes_and_new_ones_in_order() -> None:
    from luna_autoscaler.models.resources import Resources

    free = Resources.of(cpu_millis=2000, memory_bytes=8 << 30, pods=10)
    node = CapacityNode("old-1", {}, (), free)
    result = run([dataclasses.replace(pod("web", "1", "1Gi"), replicas=5)], CAT, nodes=(node,))
    assert dict(result.on_existing) == {"ns/web-0": "old-1", "ns/web-1": "old-1"}
    assert sorted(p for n in result.new_nodes for p in n.pods) == ["ns/web-2", "ns/web-3", "ns/web-4"]


def test_unplaceable_replicas_are_each_named() -> None:
    result = run([dataclasses.replace(pod("huge", "500", "1Gi"), replicas=3)], CAT)
    assert [u.pod for u in result.unplaced] == ["ns/huge-0", "ns/huge-1", "ns/huge-2"]
