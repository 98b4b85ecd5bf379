"""Launch failures: capacity errors fall back at once, quota waits longer, transient retries the same launch,
an instance that never registers is replaced, and a restart mid-launch launches nothing twice."""

from __future__ import annotations

from luna_autoscaler.errors import OfferingRef, QuotaExceeded, Transient
from luna_autoscaler.models import scheduling as lbl
from tests.kubeapi import Fault
from tests.reconcile.world import World


def test_insufficient_capacity_falls_back_in_the_same_cycle(make_world) -> None:
    w: World = make_world()
    cheapest = OfferingRef("t3a.medium", "us-east-1a", "on-demand")
    w.provider.exhaust(cheapest)
    w.add_pod("web", cpu="500m", memory="1Gi")

    report = w.cycle()

    assert [n.pods for n in report.launched] == [("default/web",)]
    assert report.launch_errors and report.launch_errors[0].startswith("insufficient-capacity")
    first, second = w.launches()
    assert first.offerings[0].ref == cheapest
    assert second.offerings[0].ref != cheapest and second.launch_id != first.launch_id
    assert (
        w.reconciler.metrics.registry.get_sample_value(
            "luna_unavailable_offerings", {"reason": "insufficient-capacity"}
        )
        >= 1
    )
    # After the ICE TTL (3 min) the offering may be planned again.
    w.cycle(advance_seconds=181)
    assert (
        w.reconciler.metrics.registry.get_sample_value(
            "luna_unavailable_offerings", {"reason": "insufficient-capacity"}
        )
        is None
    )


def test_spot_unavailable_falls_back_to_on_demand_where_the_pod_allows(make_world) -> None:
    w: World = make_world()
    only_here = {"topology.kubernetes.io/zone": "us-east-1a"}
    spot = OfferingRef("t3a.medium", "us-east-1a", "spot")
    w.provider.exhaust(spot)
    w.add_pod(
        "flexible",
        annotations={
            "node.elotl.co/instance-offerings": "spot,on-demand",
            "node.elotl.co/instance-type-regexp": "^t3a\\.medium$",
        },
        labels={},
    )
    # node selector via a patch: the builder has no knob for it
    w.server.patch("Pod", "flexible", {"spec": {"nodeSelector": only_here}})
    w.add_pod(
        "spot-only",
        annotations={
            "node.elotl.co/instance-offerings": "spot",
            "node.elotl.co/instance-type-regexp": "^t3a\\.medium$",
        },
    )
    w.server.patch("Pod", "spot-only", {"spec": {"nodeSelector": only_here}})

    report = w.cycle()

    assert [(n.instance_type, n.capacity_type, n.pods) for n in report.launched] == [
        ("t3a.medium", "on-demand", ("default/flexible",))
    ]
    assert [u.pod for u in report.unplaced] == ["default/spot-only"]
    (not_triggered,) = w.events("NotTriggerScaleUp")
    assert not_triggered[0] == "spot-only"


def test_quota_marks_the_offerings_for_an_hour_and_replans(make_world) -> None:
    w: World = make_world()
    w.provider.fail_next_launch(QuotaExceeded("vCPU limit for Standard instances reached"))
    w.add_pod("web", cpu="500m", memory="1Gi")

    report = w.cycle()

    assert report.launch_errors[0].startswith("quota")
    refused, taken = w.launches()
    assert taken.offerings[0].ref != refused.offerings[0].ref
    assert refused.offerings[0].ref not in {o.ref for o in taken.offerings}
    assert w.reconciler.metrics.registry.get_sample_value("luna_unavailable_offerings", {"reason": "quota"}) == 1
    quota = {"reason": "quota"}
    w.cycle(advance_seconds=30 * 60)
    assert w.reconciler.metrics.registry.get_sample_value("luna_unavailable_offerings", quota) == 1
    w.cycle(advance_seconds=31 * 60)
    assert w.reconciler.metrics.registry.get_sample_value("luna_unavailable_offerings", quota) is None


def test_transient_error_retries_the_same_launch_after_backoff(make_world) -> None:
    w: World = make_world()
    w.provider.fail_next_launch(Transient("RequestLimitExceeded", retry_after_seconds=7))
    w.add_pod("web", cpu="500m", memory="1Gi")

    report = w.cycle()
    assert report.launched == () and report.in_flight == 1
    assert w.cycle(advance_seconds=3).launched == ()  # before retry_after: no call, no second launch
    assert len(w.launches()) == 1
    w.cycle(advance_seconds=5)
    first, retry = w.launches()
    assert retry.launch_id == first.launch_id  # idempotent: the same client token
    assert len(w.live_instances()) == 1


def test_an_instance_that_never_registers_is_terminated_and_replaced(make_world) -> None:
    w: World = make_world(join_delay_seconds=10 * 3600)
    w.add_pod("web", cpu="500m", memory="1Gi")
    (launched,) = w.cycle().launched

    assert w.cycle(advance_seconds=14 * 60).removed == ()
    report = w.cycle(advance_seconds=61)

    assert [(r.instance_id, r.reason) for r in report.removed] == [(launched.instance_id, "registration-timeout")]
    assert launched.instance_id in w.terminated()
    (replacement,) = report.launched  # the pod is planned again at once, on another offering
    assert (replacement.instance_type, replacement.zone) != (launched.instance_type, launched.zone)
    assert [i.instance_id for i in w.live_instances()] == [replacement.instance_id]


def test_restart_mid_launch_does_not_launch_twice(make_world) -> None:
    w: World = make_world()
    w.add_pod("train", cpu="2", memory="8Gi", gpus=1)
    assert len(w.cycle().launched) == 1

    restarted = w.new_reconciler()  # the daemon restarts: its memory is gone
    report = w.cycle(advance_seconds=20, reconciler=restarted)

    assert report.launched == () and report.in_flight == 1
    assert len(w.launches()) == 1
    w.clock.advance(40)
    (node,) = w.join(gpus_ready=False)
    assert w.cycle(advance_seconds=5, reconciler=restarted).in_flight == 1  # GPUs not there yet
    w.report_gpus(node)
    report = w.cycle(advance_seconds=5, reconciler=restarted)
    assert report.in_flight == 0 and report.launched == ()
    assert len(w.launches()) == 1


def test_orphan_instance_is_garbage_collected_after_grace(make_world) -> None:
    w: World = make_world()
    w.add_pod("web", cpu="500m", memory="1Gi")
    (launched,) = w.cycle().launched
    w.clock.advance(60)
    (node,) = w.join()
    w.schedule()
    w.cycle(advance_seconds=5)
    w.server.delete("Node", node)  # someone deleted the Node; the machine still runs (and bills)

    assert w.cycle(advance_seconds=5).removed == ()  # seen once: not yet
    assert w.cycle(advance_seconds=240).removed == ()
    report = w.cycle(advance_seconds=61)

    assert [(r.instance_id, r.reason) for r in report.removed] == [(launched.instance_id, "orphan")]
    assert w.live_instances() == ()


def test_a_reason_the_api_refused_to_record_is_posted_again_next_cycle(make_world) -> None:
    """Found by the fault suite: an Event lost to a 500 was remembered as said, so the pod never got its reason."""
    w: World = make_world()
    w.add_pod("huge", cpu="500", memory="1Gi")  # fits no instance type
    down = w.server.inject(Fault(path=r"/events$", method="POST", status=500, times=None))
    assert w.cycle().unplaced and down.hits > 0
    assert w.events("NotTriggerScaleUp") == []
    w.server.clear_faults()
    w.cycle(advance_seconds=5)
    ((pod, message),) = w.events("NotTriggerScaleUp")
    assert pod == "huge" and "didn't trigger scale-up" in message


def test_a_node_the_api_will_not_label_is_counted_and_labelled_on_a_later_cycle(make_world) -> None:
    from tests.kubeapi.faults import Fault

    w: World = make_world()
    w.add_pod("web", cpu="500m", memory="1Gi")
    w.cycle()
    w.clock.advance(60)
    (node,) = w.join()
    w.server.patch("Node", node, {"metadata": {"labels": {lbl.BIN_KIND: None}}})  # the bootstrap lost one
    refused = w.server.inject(Fault(path=rf"/api/v1/nodes/{node}$", method="PATCH", status=500, times=None))

    w.cycle()
    failures = w.reconciler.metrics.registry.get_sample_value(
        "luna_node_operation_failures_total", {"operation": "label"}
    )
    assert failures is not None and failures >= 1
    assert refused.hits >= 1
    w.server.clear_faults()
    w.cycle(advance_seconds=1)
    assert w.server.get("Node", node)["metadata"]["labels"][lbl.BIN_KIND] == "pack"
