"""Cluster limits are never exceeded; the pods held back say which limit held them."""

from __future__ import annotations

from luna_autoscaler.planner.types import Limits
from tests.planner.conftest import on_demand_catalog, pod, run

CAT = on_demand_catalog("m5.large", "g4dn.xlarge")


def test_node_limit():
    pods = [pod(f"p{i}", "1500m", "2Gi") for i in range(3)]
    result = run(pods, CAT, limits=Limits(nodes=2))
    assert len(result.new_nodes) == 2
    assert [(u.pod, u.reason) for u in result.unplaced] == [
        ("ns/p2", "held back by cluster limit maxNodes (2 new nodes allowed)")
    ]


def test_gpu_limit_keeps_cpu_nodes():
    pods = [pod("g0", "1", "1Gi", gpus=1), pod("g1", "1", "1Gi", gpus=1), pod("c", "1500m", "1Gi")]
    result = run(pods, CAT, limits=Limits(gpus=1))
    assert sorted(n.offering.instance_type.name for n in result.new_nodes) == ["g4dn.xlarge", "m5.large"]
    assert len(result.unplaced) == 1
    assert result.unplaced[0].reason.startswith("held back by cluster limit maxGpus (1 more GPUs allowed")


def test_hourly_cost_limit_and_priority_decides_who_waits():
    pods = [pod("low", "1500m", "1Gi", priority=0), pod("high", "1500m", "1Gi", priority=1000)]
    result = run(pods, CAT, limits=Limits(hourly_cost_usd=0.1))
    assert result.new_nodes[0].pods == ("ns/high",)
    assert result.total_price_usd_per_hour <= 0.1
    assert result.unplaced[0].pod == "ns/low"
    assert "maxHourlyCost" in result.unplaced[0].reason


def test_zero_limit_holds_everything_back():
    result = run([pod("a")], CAT, limits=Limits(nodes=0))
    assert result.new_nodes == ()
    assert result.unplaced[0].reason == "held back by cluster limit maxNodes (0 new nodes allowed)"
