"""The loop on a pool-shaped cloud (GKE, AKS, OKE node pools): a launch is accepted before the cloud names its
machine, may fail after it was accepted, and after a restart its shape (GPU mode included) comes from what the
provider recorded, not from a guess."""

from __future__ import annotations

from luna_autoscaler.errors import InsufficientCapacity, OfferingRef
from luna_autoscaler.models.gpu_mode import DEVICE_PLUGIN_CONFIG_LABEL
from luna_autoscaler.ports import Instance
from tests.reconcile.world import World


def test_a_submitted_launch_counts_in_flight_until_its_named_machine_joins(make_world) -> None:
    w: World = make_world(pool_shaped=True)
    w.add_pod("web", cpu="500m", memory="1Gi")

    first = w.cycle()
    assert len(first.launched) == 1 and first.in_flight == 1
    (submitted,) = w.live_instances()
    assert not submitted.identified and submitted.instance_id == Instance.provisional_id(submitted.launch_id)

    assert w.cycle(advance_seconds=10).launched == ()  # not named yet: still in flight, no second launch
    w.clock.advance(w.provider.naming_delay.total_seconds() + w.provider.join_delay.total_seconds())
    (node,) = w.join()
    report = w.cycle()

    assert report.in_flight == 0 and report.launched == ()
    assert len(w.launches()) == 1
    assert w.schedule() == {"default/web": node}


def test_a_launch_the_cloud_refuses_after_accepting_it_is_replanned_elsewhere(make_world) -> None:
    w: World = make_world(pool_shaped=True)
    cheapest = OfferingRef("t3a.medium", "us-east-1a", "on-demand")
    w.provider.fail_in_cloud(InsufficientCapacity(f"ZONE_RESOURCE_POOL_EXHAUSTED for {cheapest}", [cheapest]))
    w.add_pod("web", cpu="500m", memory="1Gi")

    assert len(w.cycle().launched) == 1
    report = w.cycle(advance_seconds=w.provider.naming_delay.total_seconds())

    first, second = w.launches()
    assert first.offerings[0].ref == cheapest
    assert second.offerings[0].ref != cheapest  # the refused offering is unavailable for its TTL
    assert report.launch_errors and report.launch_errors[0].startswith("insufficient-capacity")
    assert Instance.provisional_id(first.launch_id) in w.terminated()  # the pool comes back down
    assert [i.launch_id for i in w.live_instances()] == [second.launch_id]


def test_a_restart_counts_a_time_sliced_node_in_flight_with_its_replicas(make_world) -> None:
    w: World = make_world({"gpuTimeSlicing": "[{gpuSkus: [T4], replicas: 4}]"}, pool_shaped=True)
    for name in ("infer-a", "infer-b"):
        w.add_pod(name, cpu="1", memory="2Gi", gpus=1)
    assert len(w.cycle().launched) == 1
    (request,) = w.launches()
    assert request.labels[DEVICE_PLUGIN_CONFIG_LABEL] == "luna-timeslice-4"
    assert request.gpu_mode.replicas == 4

    restarted = w.new_reconciler()  # the daemon restarts before the machine has a name
    w.add_pod("infer-c", cpu="1", memory="2Gi", gpus=1)
    report = w.cycle(advance_seconds=5, reconciler=restarted)

    # The rebuilt launch offers 4 replicas of its one T4 (its recorded GPU mode): the third pod fits in flight.
    assert report.launched == () and report.in_flight == 1
    assert len(w.launches()) == 1


def test_a_cloud_error_that_says_how_long_an_offering_is_out_keeps_it_out_that_long(make_world) -> None:
    w: World = make_world()
    cheapest = OfferingRef("t3a.medium", "us-east-1a", "on-demand")
    error = InsufficientCapacity("SKUNotAvailable", [cheapest])
    error.ttl_seconds = 3600.0  # e.g. Azure's SKUNotAvailable: an hour, where the configured ICE TTL is 3 minutes
    w.provider.fail_next_launch(error)
    w.add_pod("web", cpu="500m", memory="1Gi")
    w.cycle()

    w.cycle(advance_seconds=600)  # past insufficientCapacityTTL (180 s), within the error's own hour

    unavailable = w.reconciler.metrics.registry.get_sample_value(
        "luna_unavailable_offerings", {"reason": "insufficient-capacity"}
    )
    assert unavailable == 1
