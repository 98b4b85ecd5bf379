"""The fake provider's own controls: queued failures, exhausted offerings, join delay, interruptions, call log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from luna_autoscaler.config import Config, config_from_mapping
from luna_autoscaler.errors import InsufficientCapacity, OfferingRef, Permanent, QuotaExceeded, Transient
from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from luna_autoscaler.ports import Instance, InstanceState, InterruptionKind, LaunchRequest, ProviderContext
from pricing.catalog import load_catalog
from providers.fake import FakeProvider, ProviderCall, create
from tests.providers.harness_fake import ManualClock


@pytest.fixture
def fake(catalog: Catalog, clock: ManualClock) -> FakeProvider:
    return FakeProvider(catalog, clock, cluster_name="prod", join_delay_seconds=90)


def offering(catalog: Catalog, name: str, zone: str = "us-east-1a") -> Offering:
    found = catalog.find(OfferingRef(name, zone, CapacityType.ON_DEMAND.value))
    assert found is not None
    return found


def launch(
    fake: FakeProvider, catalog: Catalog, launch_id: str, name: str = "m5.large", cluster: str = "prod"
) -> Instance:
    return fake.launch(LaunchRequest(launch_id, cluster, (offering(catalog, name),)))


def test_an_instance_is_priced_and_placed_as_its_offering(fake: FakeProvider, catalog: Catalog) -> None:
    instance = launch(fake, catalog, "l1", "g5.xlarge")

    assert (instance.instance_type, instance.zone, instance.capacity_type) == ("g5.xlarge", "us-east-1a", "on-demand")
    assert instance.price_usd_per_hour == 1.006
    assert instance.provider_id == f"fake://{instance.instance_id}"
    assert instance.state == InstanceState.PENDING


def test_queued_failures_are_raised_in_order_one_per_launch(fake: FakeProvider, catalog: Catalog) -> None:
    fake.fail_next_launch(QuotaExceeded("vCPU quota"))
    fake.fail_next_launch(Transient("throttled", retry_after_seconds=2))

    with pytest.raises(QuotaExceeded):
        launch(fake, catalog, "a")
    with pytest.raises(Transient) as throttled:
        launch(fake, catalog, "a")
    assert throttled.value.retry_after_seconds == 2
    assert launch(fake, catalog, "a").launch_id == "a"


def test_a_replayed_launch_returns_its_instance_without_consuming_a_failure(
    fake: FakeProvider, catalog: Catalog
) -> None:
    first = launch(fake, catalog, "done")
    fake.fail_next_launch(Transient("throttled"))

    assert launch(fake, catalog, "done") == first
    with pytest.raises(Transient):
        launch(fake, catalog, "new")


def test_exhausted_offerings_fail_until_replenished(fake: FakeProvider, catalog: Catalog) -> None:
    ref = offering(catalog, "m5.large").ref
    fake.exhaust(ref)

    with pytest.raises(InsufficientCapacity) as ice:
        launch(fake, catalog, "x")
    assert ice.value.offerings == (ref,)
    assert not ice.value.spot_unavailable

    fake.replenish(ref)
    assert launch(fake, catalog, "x").instance_type == "m5.large"


def test_an_offering_the_catalog_does_not_sell_is_permanent(fake: FakeProvider, catalog: Catalog) -> None:
    foreign = load_catalog("aws", "eu-west-1").offerings[0]

    with pytest.raises(Permanent) as refused:
        fake.launch(LaunchRequest("eu", "prod", (foreign,)))
    assert refused.value.offerings == (foreign.ref,)


def test_instances_join_after_the_delay_exactly_once(fake: FakeProvider, catalog: Catalog, clock: ManualClock) -> None:
    early = launch(fake, catalog, "early")
    clock.advance(30)
    late = launch(fake, catalog, "late")
    gone = launch(fake, catalog, "gone")
    fake.terminate(gone.instance_id)

    assert fake.due_to_join(clock.advance(59)) == []
    joined = fake.due_to_join(clock.advance(1))
    assert [i.instance_id for i in joined] == [early.instance_id]
    assert joined[0].state == InstanceState.RUNNING
    assert fake.due_to_join(clock.now) == []
    assert [i.instance_id for i in fake.due_to_join(clock.advance(30))] == [late.instance_id]
    assert {i.instance_id: i.state for i in fake.list_instances()} == {
        early.instance_id: InstanceState.RUNNING,
        late.instance_id: InstanceState.RUNNING,
    }


def test_list_shows_only_this_clusters_live_instances(fake: FakeProvider, catalog: Catalog) -> None:
    ours = launch(fake, catalog, "ours")
    launch(fake, catalog, "theirs", cluster="staging")
    dead = launch(fake, catalog, "dead")
    fake.terminate(dead.instance_id)

    assert [i.instance_id for i in fake.list_instances()] == [ours.instance_id]


def test_interruptions_are_polled_once_with_a_spot_deadline(
    fake: FakeProvider, catalog: Catalog, clock: ManualClock
) -> None:
    instance = launch(fake, catalog, "spotty")
    notice = fake.interrupt(instance.instance_id)
    rebalance = fake.interrupt(instance.instance_id, InterruptionKind.REBALANCE)

    assert notice.deadline == clock.now + timedelta(minutes=2)
    assert rebalance.deadline is None
    assert fake.poll_interruptions() == (notice, rebalance)
    assert fake.poll_interruptions() == ()


def test_interrupting_an_unknown_or_terminated_instance_is_a_test_error(fake: FakeProvider, catalog: Catalog) -> None:
    instance = launch(fake, catalog, "short")
    fake.terminate(instance.instance_id)

    with pytest.raises(LookupError):
        fake.interrupt(instance.instance_id)
    with pytest.raises(LookupError):
        fake.interrupt("fake-424242")


def test_every_port_call_is_recorded(fake: FakeProvider, catalog: Catalog) -> None:
    instance = launch(fake, catalog, "rec")
    fake.terminate(instance.instance_id)
    fake.list_instances()
    fake.poll_interruptions()
    fake.instance_id_of(instance.provider_id)
    fake.catalog()

    assert [c.method for c in fake.calls] == [
        "launch",
        "terminate",
        "list_instances",
        "poll_interruptions",
        "instance_id_of",
        "catalog",
    ]
    assert fake.calls[1] == ProviderCall("terminate", (instance.instance_id,))


def test_provider_ids_of_other_clouds_are_not_ours(fake: FakeProvider) -> None:
    assert fake.instance_id_of("aws:///us-east-1a/i-0123456789abcdef0") is None
    assert fake.instance_id_of("fake://") is None


def test_the_entry_point_prices_from_the_configured_aws_region_under_the_aws_section(clock: ManualClock) -> None:
    config = config_from_mapping({"fake": {"region": "us-west-2"}, "aws": {"maxSpotInterruptBucket": 0}})

    provider = create(ProviderContext(config=config, cluster_name="c1", clock=clock))

    assert provider.cluster_name == "c1" and provider.name == "fake"
    assert provider.catalog().region == "us-west-2"
    excluded = [o for o in provider.catalog() if o.exclusion is not None]
    assert excluded and all(o.capacity_type == CapacityType.SPOT for o in excluded)
    assert all("above aws.maxSpotInterruptBucket 0" in (o.exclusion or "") for o in excluded)


def test_the_entry_point_defaults_to_us_east_1(clock: ManualClock) -> None:
    provider = create(ProviderContext(config=Config(), cluster_name="c1", clock=clock))

    assert provider.catalog().region == "us-east-1"
    assert provider.features == {}
