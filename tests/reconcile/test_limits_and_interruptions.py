"""Cluster limits, spot interruptions and dry-run, through the real kube adapter."""

from __future__ import annotations

from luna_autoscaler.models.catalog import CapacityType
from tests.reconcile.world import World

SPOT = {"node.elotl.co/instance-offerings": "spot"}


def test_max_nodes_counts_existing_and_in_flight_and_explains_the_rest(make_world) -> None:
    w: World = make_world({"maxNodes": "2"})
    w.add_node("already-ours")
    for i in range(3):
        w.add_pod(f"train-{i}", cpu="2", memory="8Gi", gpus=1)

    report = w.cycle()

    assert len(report.launched) == 1
    assert len(report.unplaced) == 2 and all("maxNodes" in u.reason for u in report.unplaced)
    held = w.events("NotTriggerScaleUp")
    assert len(held) == 2 and all("maxNodes" in message for _, message in held)
    assert w.cycle(advance_seconds=20).launched == ()  # the launch in flight counts too
    assert len(w.launches()) == 1


def test_max_gpus_and_max_hourly_cost_are_never_exceeded(make_world) -> None:
    w: World = make_world({"maxGpus": "1", "maxHourlyCost": "1.0"})
    for i in range(2):
        w.add_pod(f"train-{i}", cpu="2", memory="8Gi", gpus=1)
    w.add_pod("web", cpu="500m", memory="1Gi")

    report = w.cycle()

    gpu_nodes = [n for n in report.launched if n.instance_type.startswith("g")]
    assert len(gpu_nodes) == 1
    assert sum(n.price_usd_per_hour for n in report.launched) <= 1.0
    assert any("maxGpus" in u.reason for u in report.unplaced)


def test_spot_interruption_drains_at_once_and_replaces_before_the_node_goes(make_world) -> None:
    w: World = make_world()
    w.add_pod("worker", cpu="500m", memory="1Gi", annotations={"node.elotl.co/instance-offerings": "spot,on-demand"})
    (spot,) = w.cycle().launched
    assert spot.capacity_type == CapacityType.SPOT
    w.clock.advance(60)
    (node,) = w.join()
    w.schedule()
    w.cycle(advance_seconds=5)

    w.provider.interrupt(spot.instance_id)
    report = w.cycle(advance_seconds=1)

    assert [(d.node, d.reason) for d in report.drains_started] == [(node, "interrupted")]
    (replacement,) = report.launched  # planned for the node's pods in the same cycle
    assert replacement.pods == ("default/worker",)
    assert (replacement.instance_type, replacement.zone, replacement.capacity_type) != (
        spot.instance_type,
        spot.zone,
        spot.capacity_type,
    )
    node_obj = w.server.get("Node", node)
    assert node_obj["spec"].get("unschedulable") is True
    assert not w.server.exists("Pod", "worker")  # evicted at once
    report = w.cycle(advance_seconds=5)
    assert [(r.node, r.reason) for r in report.removed] == [(node, "interrupted")]
    assert spot.instance_id in w.terminated()


def test_dry_run_plans_and_reports_but_touches_nothing(make_world) -> None:
    w: World = make_world({"scaleDown.nodeUnneededDuration": "1m"})
    dry = w.new_reconciler(dry_run=True)
    w.add_node("idle", cpu="250m")  # too small for "web": empty, so unneeded
    w.add_pod("web", cpu="500m", memory="1Gi")
    w.add_pod("bad", annotations={"node.elotl.co/instance-gpu-skus": "Z9000"})

    report = w.cycle(reconciler=dry)
    assert report.dry_run and [(n.instance_type, n.instance_id) for n in report.launched] == [("t3a.medium", "")]
    report = w.cycle(advance_seconds=60, reconciler=dry)

    assert [d.node for d in report.drains_started] == ["idle"]
    assert w.launches() == [] and w.terminated() == []
    assert not w.server.get("Node", "idle")["spec"].get("unschedulable")
    assert w.events("InvalidAnnotation") == [] and w.events("TriggeredScaleUp") == []
