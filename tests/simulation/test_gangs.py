"""Gangs in the simulation: the simulated scheduler binds a gang whole or not at all, counts the GPU-hours that
partial gangs hold, and a run with the loop's gang planning wastes none where a gang-blind loop wastes some."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import yaml

from luna_autoscaler.models.resources import NVIDIA_GPU
from luna_autoscaler.models.workloads import KAI_POD_GROUP, GroupKind, PodGroup, queue_from_manifest
from luna_autoscaler.simulation.cluster import SimulatedCluster
from luna_autoscaler.simulation.engine import Simulation
from luna_autoscaler.simulation.report import summary_text
from luna_autoscaler.simulation.results import Comparison, RunResult
from luna_autoscaler.simulation.scenario import load_scenario
from tests.simulation.conftest import small_provider
from tests.simulation.test_cluster import node, pod


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 6, 2, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _member(name: str, gpus: int = 1):
    return pod(name, extended={NVIDIA_GPU: gpus}, annotations=MappingProxyType({KAI_POD_GROUP: "job"}))


def test_a_gang_binds_only_when_all_its_members_fit_and_until_then_its_gpus_are_held() -> None:
    clock = Clock()
    cluster = SimulatedCluster(clock, pod_groups=[PodGroup(GroupKind.KAI, "default", "job", 3)])
    cluster.register_node(node("n1", gpus=2))
    for i in range(3):
        cluster.create_pod(_member(f"w{i}"))

    assert cluster.schedule() == ()  # two fit, the third does not: none is bound
    assert all(p.unschedulable for p in cluster.pods.values())
    clock.now += timedelta(minutes=30)
    cluster.register_node(node("n2", gpus=1))
    assert sorted(k for k, _ in cluster.schedule()) == ["default/w0", "default/w1", "default/w2"]
    assert cluster.partial_gangs.waited_gpu_seconds == 2 * 1800  # two GPUs held for half an hour, then it ran
    assert cluster.partial_gangs.wasted_gpu_seconds == 0


def test_a_partial_gang_whose_nodes_go_away_wasted_what_it_held() -> None:
    clock = Clock()
    cluster = SimulatedCluster(clock, pod_groups=[PodGroup(GroupKind.KAI, "default", "job", 2)])
    cluster.register_node(node("n1", gpus=1))
    cluster.create_pod(_member("w0"))
    cluster.create_pod(_member("w1"))
    cluster.schedule()
    clock.now += timedelta(hours=1)
    cluster.delete_node("n1")
    cluster.schedule()
    clock.now += timedelta(hours=1)
    cluster.finish()
    assert cluster.partial_gangs.wasted_gpu_seconds == 3600


def test_a_queue_limit_keeps_the_simulated_scheduler_from_binding() -> None:
    queue = queue_from_manifest(
        {
            "apiVersion": "scheduling.run.ai/v2",
            "metadata": {"name": "team"},
            "spec": {"resources": {"gpu": {"quota": 1, "limit": 1, "overQuotaWeight": 1}}},
        }
    )
    cluster = SimulatedCluster(Clock(), queues=[queue])
    cluster.register_node(node("n1", gpus=2))
    for name in ("a", "b"):
        cluster.create_pod(
            pod(name, extended={NVIDIA_GPU: 1}, labels=MappingProxyType({"kai.scheduler/queue": "team"}))
        )
    assert cluster.schedule() == (("default/a", "n1"),)


def _gang_scenario(write: Callable[..., Path], config: dict[str, object]) -> Path:
    path = write()
    doc = yaml.safe_load(path.read_text())
    doc["traces"][0]["gangs"] = {"size": 6, "queue": "training"}
    doc["queues"] = [
        {"apiVersion": "scheduling.run.ai/v2", "kind": "Queue", "metadata": {"name": "training"}, "spec": {}}
    ]
    doc["config"] = {**doc["config"], **config}
    path.write_text(yaml.safe_dump(doc))
    return path


def _run(path: Path) -> RunResult:
    scenario = load_scenario(path)
    return Simulation(scenario, small_provider(scenario.cluster_name)).run()


def test_the_loop_buys_a_gang_whole_and_wastes_no_gpu_hours_on_partial_gangs(
    burst_scenario: Callable[..., Path],
) -> None:
    path = _gang_scenario(burst_scenario, {"defaultOfferings": "on-demand"})
    scenario = load_scenario(path)
    assert [(g.name, g.min_member, g.queue) for g in scenario.pod_groups] == [("gang-0000", 6, "training")]

    run = _run(path)

    assert run.pods_completed == run.pods_arrived == 13
    assert run.partial_gang_gpu_hours == 0
    text = summary_text(Comparison("burst", "", "", "aws", "us-east-1", "test", 3, run, None), None, elapsed_seconds=1)
    assert re.search(r"GPU-hours wasted by partial gangs +0\.0\n", text)


def test_a_gang_blind_loop_under_a_gpu_limit_wastes_gpu_hours_on_the_half_gang(
    burst_scenario: Callable[..., Path],
) -> None:
    limits = {"defaultOfferings": "on-demand", "maxGpus": 4}
    blind = _run(_gang_scenario(burst_scenario, {**limits, "gangs": {"enabled": False}}))
    aware = _run(_gang_scenario(burst_scenario, limits))

    assert blind.partial_gang_gpu_hours > 0.1  # nodes for 4 of the 6 GPUs, idle until scale-down
    assert aware.partial_gang_gpu_hours == 0
    assert any("held back by cluster limit maxGpus" in why for why in aware.never_served_why)
