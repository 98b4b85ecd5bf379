"""Scale-up through the real kube adapter and the fake provider: launch, follow, never twice."""

from __future__ import annotations

from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.ports import Instance, LaunchRequest
from tests.reconcile.world import CONFIG_NAME, CONFIG_NAMESPACE, World


def test_pending_pods_get_the_cheapest_nodes_and_events(make_world) -> None:
    w: World = make_world()
    for i in range(3):
        w.add_pod(f"web-{i}", cpu="500m", memory="1Gi")
    w.add_pod("train", cpu="2", memory="8Gi", gpus=1)
    w.add_pod("other", cpu="500m", handled=False)

    report = w.cycle()

    launched = sorted((n.instance_type, n.capacity_type, n.pods) for n in report.launched)
    assert launched == [
        ("g4dn.xlarge", "on-demand", ("default/train",)),
        ("t3a.medium", "on-demand", ("default/web-0", "default/web-1", "default/web-2")),
    ]
    requests = w.launches()
    assert all(r.cluster_name == "test" and r.tags["luna.elotl.co/launch-id"] == r.launch_id for r in requests)
    assert all(r.labels[lbl.MANAGED_BY] == lbl.MANAGED_BY_VALUE for r in requests)
    gpu = next(r for r in requests if r.offerings[0].instance_type.gpus)
    assert any(t.key == "nvidia.com/gpu" for t in gpu.taints)
    triggered = w.events("TriggeredScaleUp")
    assert sorted(name for name, _ in triggered) == ["train", "web-0", "web-1", "web-2"]
    assert all("launch launch-00" in message for _, message in triggered)


def test_every_launch_request_goes_out_before_the_pods_events_and_estimates(make_world, monkeypatch) -> None:
    """Issue 11: an Event posted per pod between launches put 1,000 API calls before the last launch request;
    cost estimates (a plan per gated workload, buying nothing) came before the launches too."""
    w: World = make_world()
    w.add_pod("train", cpu="2", memory="8Gi", gpus=1)
    w.add_pod("web", cpu="500m", memory="1Gi")
    w.add_pod("huge", cpu="500", memory="1Gi")  # fits no instance type: NotTriggerScaleUp
    w.add_pod("bad", annotations={"node.elotl.co/instance-max-cost": "cheap"})  # InvalidAnnotation
    w.add_pod("gated", scheduling_gates=["nodecostestimate"])  # NodeCostEstimate
    registry = w.reconciler.metrics.registry
    seen_at_launch: list[tuple[int, float | None]] = []
    launch = w.provider.launch

    def counting(request: LaunchRequest) -> Instance:
        estimates = registry.get_sample_value("luna_planner_duration_seconds_count", {"purpose": "estimate"})
        seen_at_launch.append((len(w.server.list("Event", api_version="events.k8s.io/v1")), estimates))
        return launch(request)

    monkeypatch.setattr(w.provider, "launch", counting)

    report = w.cycle()

    assert len(report.launched) == 2 and seen_at_launch == [(0, None), (0, None)]
    assert sorted(name for name, _ in w.events("TriggeredScaleUp")) == ["train", "web"]
    assert [name for name, _ in w.events("NotTriggerScaleUp")] == ["huge"]
    assert [name for name, _ in w.events("InvalidAnnotation")] == ["bad"]
    assert [name for name, _ in w.events("NodeCostEstimate")] == ["gated"]


def test_no_second_launch_while_nodes_join_and_gpus_come_late(make_world) -> None:
    w: World = make_world()
    w.add_pod("train", cpu="2", memory="8Gi", gpus=1)
    w.add_pod("web", cpu="500m", memory="1Gi")
    assert len(w.cycle().launched) == 2

    # Nothing registered yet: the launches are in flight and cover both pods.
    for _ in range(3):
        report = w.cycle(advance_seconds=15)
        assert report.launched == () and report.in_flight == 2
    # Nodes register; the GPU node is Ready but its device plugin has not reported GPUs yet.
    w.clock.advance(30)
    joined = w.join(gpus_ready=False)
    assert len(joined) == 2
    assert w.schedule() == {"default/web": next(n for n in joined if "000002" in n)}
    report = w.cycle(advance_seconds=5)
    assert report.launched == () and report.in_flight == 1  # the GPU node still initialising
    gpu_node = next(n for n in joined if "000001" in n)
    w.report_gpus(gpu_node)
    assert w.schedule() == {"default/train": gpu_node}
    report = w.cycle(advance_seconds=5)
    assert report.launched == () and report.in_flight == 0
    assert len(w.launches()) == 2
    assert w.reconciler.metrics.registry.get_sample_value("luna_launch_latency_seconds_count") == 2


def test_pods_wait_for_the_launches_bought_for_them_and_get_no_second_node(make_world) -> None:
    """The cycle after a plan's launches planned the still-pending pods onto the in-flight nodes by best fit,
    which does not find the plan's own packing: here p2 took p0's place, p0 took p1's and p1 got a second
    m5.2xlarge (1,000 trace pods: 10 more nodes). Pods now wait for the launch that was bought for them while
    it is in flight (once the nodes are up, where the pods go is kube-scheduler's choice)."""
    w: World = make_world()
    for name, cpu, memory in (("p0", "2", "12Gi"), ("p1", "1", "20Gi"), ("p2", "4", "512Mi"), ("p3", "3", "8Gi")):
        w.add_pod(name, cpu=cpu, memory=memory)
    first = w.cycle()
    assert sorted((s.instance_type, s.pods) for s in first.launched) == [
        ("m5.2xlarge", ("default/p1", "default/p2")),
        ("t3a.xlarge", ("default/p0",)),
        ("t3a.xlarge", ("default/p3",)),
    ]

    for _ in range(3):
        report = w.cycle(advance_seconds=5)
        assert report.launched == () and report.unplaced == () and report.in_flight == 3
    assert len(w.launches()) == 3


def test_batching_waits_for_a_burst_to_end(make_world) -> None:
    w: World = make_world({"batching.idleDuration": "2s", "batching.maxDuration": "10s"})
    r = w.new_reconciler(batching=True)
    w.add_pod("a")
    assert not w.cycle(reconciler=r).planned  # the burst has just begun
    w.add_pod("b")
    assert not w.cycle(advance_seconds=1, reconciler=r).planned  # still arriving
    report = w.cycle(advance_seconds=2, reconciler=r)  # quiet for idleDuration: one plan for both
    assert report.planned and [n.pods for n in report.launched] == [("default/a", "default/b")]


def test_invalid_annotations_and_cost_estimates_are_reported_not_provisioned(make_world) -> None:
    w: World = make_world()
    w.add_pod("bad", annotations={"node.elotl.co/instance-max-cost": "cheap"})
    w.add_pod("gated", gpus=1, scheduling_gates=["nodecostestimate"])
    w.add_pod("good")

    report = w.cycle()

    assert [n.pods for n in report.launched] == [("default/good",)]
    (invalid,) = w.events("InvalidAnnotation")
    assert invalid[0] == "bad" and "node.elotl.co/instance-max-cost" in invalid[1]
    assert w.events("NodeCostEstimate") == [
        ("gated", "Estimated cost $0.5260/h for g4dn.xlarge (on-demand); estimated node count 1")
    ]
    w.cycle(advance_seconds=30)
    assert len(w.events("NodeCostEstimate")) == 1  # said once


def test_an_unchanged_situation_is_not_planned_again(make_world) -> None:
    w: World = make_world()
    w.add_pod("huge", cpu="500", memory="1Gi")  # no instance type has 500 CPUs
    planned = {"purpose": "scale-up"}

    for _ in range(3):
        report = w.cycle(advance_seconds=10)
        assert [u.pod for u in report.unplaced] == ["default/huge"]
    assert w.reconciler.metrics.registry.get_sample_value("luna_planner_duration_seconds_count", planned) == 1
    assert len(w.events("NotTriggerScaleUp")) == 1

    w.add_pod("small", cpu="500m", memory="1Gi")  # the input changed: plan again
    assert len(w.cycle(advance_seconds=10).launched) == 1
    assert w.reconciler.metrics.registry.get_sample_value("luna_planner_duration_seconds_count", planned) == 2


def test_a_configmap_change_of_the_spot_ratio_reprices_estimated_spot_at_the_next_plan(make_world) -> None:
    w: World = make_world()
    spot_only = {"node.elotl.co/instance-offerings": "spot"}
    on_demand = {(o.name, o.zone): o.price_usd_per_hour for o in w.catalog if o.capacity_type.value == "on-demand"}

    w.add_pod("a", cpu="500m", memory="1Gi", annotations=spot_only)
    w.cycle()
    first = w.launches()[-1].offerings[0]
    assert first.price_estimated and first.price_usd_per_hour == round(on_demand[(first.name, first.zone)] * 0.35, 6)

    generation = w.cluster.config_source.generation
    w.server.patch("ConfigMap", CONFIG_NAME, {"data": {"spotPriceRatioEstimate": "0.5"}}, namespace=CONFIG_NAMESPACE)
    assert w.cluster.config_source.wait_for_change(generation, 10.0) > generation
    assert w.config.spot_price_ratio_estimate == 0.5
    w.add_pod("b", cpu="1500m", memory="1Gi", annotations=spot_only)  # too big for what is left on the first node
    w.cycle()
    second = w.launches()[-1].offerings[0]
    assert second.price_estimated and second.price_usd_per_hour == round(on_demand[(second.name, second.zone)] * 0.5, 6)
    assert "spotPriceRatioEstimate 0.5" in second.provenance.source
