"""The promises of the NodeProvider port (luna_autoscaler.ports), checked against every provider harness.

The reconcile loop relies on exactly these: it retries launches with the same launch_id after a crash, finds its
machines by tags, maps Nodes back to instances by providerID, terminates without checking first, and falls back
to the next offering when one is out of capacity. A provider that passes this suite can be driven by the loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import pytest

from luna_autoscaler.errors import InsufficientCapacity, ProviderError
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import Arch, CapacityType, Catalog, Offering
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import (
    OWNER_VALUE,
    TAG_CLUSTER,
    TAG_LAUNCH_ID,
    TAG_NODE_POOL,
    TAG_OWNER,
    Instance,
    InstanceState,
    LaunchRequest,
    NodeProvider,
)
from tests.providers.conftest import CLUSTER
from tests.providers.harness import Harness

FOREIGN_PROVIDER_ID = "contract-test://nowhere/no-such-cloud/i-0"


def cheap_offerings(catalog: Catalog, count: int = 3) -> tuple[Offering, ...]:
    """Plain on-demand amd64 CPU offerings of `count` different types, cheapest first: what any cloud can launch."""
    chosen: dict[str, Offering] = {}
    candidates = (
        o
        for o in catalog
        if o.capacity_type == CapacityType.ON_DEMAND and o.instance_type.accelerator is None
        if o.instance_type.arch == Arch.AMD64
    )
    for o in sorted(candidates, key=lambda o: (o.price_usd_per_hour, o.name, o.zone)):
        chosen.setdefault(o.name, o)
        if len(chosen) == count:
            break
    assert len(chosen) == count, f"the catalog has fewer than {count} plain on-demand types"
    return tuple(chosen.values())


DEDICATED = Taint("dedicated", "contract", "NoSchedule")


def request(launch_id: str, offerings: Sequence[Offering]) -> LaunchRequest:
    return LaunchRequest(
        launch_id=launch_id,
        cluster_name=CLUSTER,
        offerings=tuple(offerings),
        labels={**offerings[0].labels(), "team": "contract", lbl.LAUNCH_ID: launch_id},
        taints=(DEDICATED,),
        tags={TAG_NODE_POOL: "contract"},
    )


def listed(provider: NodeProvider, launch_id: str) -> list[Instance]:
    return [i for i in provider.list_instances() if i.launch_id == launch_id]


def launched(harness: Harness, launch_id: str, count: int = 3) -> tuple[Instance, tuple[Offering, ...]]:
    offerings = cheap_offerings(harness.provider.catalog(), count)
    return harness.provider.launch(request(launch_id, offerings)), offerings


def test_a_provider_is_a_node_provider(harness: Harness) -> None:
    assert isinstance(harness.provider, NodeProvider)
    assert harness.provider.name and isinstance(harness.provider.name, str)


def test_launch_returns_an_instance_of_a_requested_offering_tagged_as_ours(harness: Harness) -> None:
    instance, offerings = launched(harness, "contract-launch-1")

    assert instance.offering in {o.ref for o in offerings}
    assert instance.launch_id == "contract-launch-1"
    assert instance.state in (InstanceState.PENDING, InstanceState.RUNNING)
    assert instance.tags[TAG_CLUSTER] == CLUSTER
    assert instance.tags[TAG_OWNER] == OWNER_VALUE
    assert instance.tags[TAG_LAUNCH_ID] == "contract-launch-1"
    assert instance.tags[TAG_NODE_POOL] == "contract"  # the request's own tags are applied too


def test_launch_is_idempotent_on_launch_id(harness: Harness) -> None:
    first, offerings = launched(harness, "contract-replayed")
    again = harness.provider.launch(request("contract-replayed", offerings))

    assert again.instance_id == first.instance_id
    mine = [i for i in harness.provider.list_instances() if i.launch_id == "contract-replayed"]
    assert [i.instance_id for i in mine] == [first.instance_id]


def test_list_instances_shows_launched_instances_and_only_this_clusters(harness: Harness) -> None:
    a, _ = launched(harness, "contract-list-a")
    b, _ = launched(harness, "contract-list-b")

    listed = harness.provider.list_instances()

    assert {a.instance_id, b.instance_id} <= {i.instance_id for i in listed}
    assert all(i.tags.get(TAG_CLUSTER) == CLUSTER for i in listed)
    assert all(i.state != InstanceState.TERMINATED for i in listed)


def test_instance_id_of_round_trips_provider_ids_and_ignores_other_clouds(harness: Harness) -> None:
    launched(harness, "contract-provider-id")
    harness.settle()
    (instance,) = listed(harness.provider, "contract-provider-id")

    assert instance.identified
    assert harness.provider.instance_id_of(instance.provider_id) == instance.instance_id
    assert harness.provider.instance_id_of(FOREIGN_PROVIDER_ID) is None


def test_terminate_twice_is_fine_and_the_instance_leaves_the_list(harness: Harness) -> None:
    instance, _ = launched(harness, "contract-terminate")

    harness.provider.terminate(instance.instance_id)
    harness.provider.terminate(instance.instance_id)

    assert instance.instance_id not in {i.instance_id for i in harness.provider.list_instances()}


def test_terminating_an_unknown_instance_is_success(harness: Harness) -> None:
    harness.provider.terminate(harness.unknown_instance_id)


def test_no_capacity_for_the_only_offering_is_insufficient_capacity_naming_it(harness: Harness) -> None:
    (offering,) = cheap_offerings(harness.provider.catalog(), 1)
    harness.faults.no_capacity(offering)

    with pytest.raises(InsufficientCapacity) as raised:
        harness.provider.launch(request("contract-ice-single", [offering]))

    assert offering.ref in raised.value.offerings


def test_no_capacity_for_the_first_offering_is_reported_or_falls_back_to_another(harness: Harness) -> None:
    offerings = cheap_offerings(harness.provider.catalog(), 3)
    harness.faults.no_capacity(offerings[0])

    try:
        instance = harness.provider.launch(request("contract-ice-first", offerings))
    except InsufficientCapacity as e:
        assert offerings[0].ref in e.offerings
    else:
        assert instance.offering in {o.ref for o in offerings[1:]}


def test_catalog_offers_positively_priced_offerings_with_provenance(harness: Harness) -> None:
    catalog = harness.provider.catalog()

    assert len(catalog) > 0
    assert isinstance(catalog.provenance.as_of, date) and catalog.provenance.source
    for o in catalog:
        assert o.price_usd_per_hour > 0, o
        assert o.provenance.source and isinstance(o.provenance.as_of, date), o
        assert o.region == catalog.region


def test_features_map_feature_names_to_reasons(harness: Harness) -> None:
    features = harness.provider.features

    assert isinstance(features, Mapping)
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in features.items())


# --- pool-shaped launches: what every cloud must report, whether it names machines at once or later -----------


def test_every_launch_is_listed_with_its_launch_id_and_node_configuration_before_it_settles(harness: Harness) -> None:
    instance, offerings = launched(harness, "contract-configuration")

    (entry,) = listed(harness.provider, "contract-configuration")
    chosen = next(o for o in offerings if o.ref == entry.offering)
    assert entry.configuration == request("contract-configuration", offerings).configuration(chosen)
    assert entry.configuration is not None
    assert entry.configuration.labels["team"] == "contract"
    assert lbl.LAUNCH_ID not in entry.configuration.labels  # per-launch labels are no pool's labels
    assert DEDICATED in entry.configuration.taints  # registered with the node, never added later
    assert instance.identified or instance.instance_id == Instance.provisional_id("contract-configuration")


def test_a_launch_is_named_once_the_cloud_settles_and_replays_return_the_named_instance(harness: Harness) -> None:
    _, offerings = launched(harness, "contract-named")
    harness.settle()

    (entry,) = listed(harness.provider, "contract-named")
    assert entry.identified and entry.state in (InstanceState.PENDING, InstanceState.RUNNING)
    assert harness.provider.instance_id_of(entry.provider_id) == entry.instance_id
    again = harness.provider.launch(request("contract-named", offerings))
    assert again.instance_id == entry.instance_id
    assert [i.instance_id for i in listed(harness.provider, "contract-named")] == [entry.instance_id]


def test_terminating_the_handle_launch_returned_ends_the_launch_named_or_not(harness: Harness) -> None:
    instance, _ = launched(harness, "contract-cancelled")

    harness.provider.terminate(instance.instance_id)
    harness.settle()

    assert listed(harness.provider, "contract-cancelled") == []


def test_a_new_provider_over_the_same_cloud_sees_every_launch_with_its_configuration(harness: Harness) -> None:
    if harness.reopen is None:
        pytest.skip("this harness cannot build a second provider over the same cloud")
    launched(harness, "contract-restart")
    (before,) = listed(harness.provider, "contract-restart")

    (after,) = listed(harness.reopen(), "contract-restart")

    assert after.configuration == before.configuration
    assert after.offering == before.offering


def test_a_refusal_found_after_submission_is_listed_failed_with_a_classified_error(harness: Harness) -> None:
    if harness.late_faults is None:
        pytest.skip("this cloud refuses launches only in the launch call")
    (offering,) = cheap_offerings(harness.provider.catalog(), 1)
    harness.late_faults.no_capacity_after_submit(offering)

    harness.provider.launch(request("contract-late-ice", [offering]))
    harness.settle()

    (entry,) = listed(harness.provider, "contract-late-ice")
    assert entry.state is InstanceState.FAILED
    assert isinstance(entry.failure, InsufficientCapacity) and offering.ref in entry.failure.offerings
    assert isinstance(entry.failure, ProviderError)
    harness.provider.terminate(entry.instance_id)
    assert listed(harness.provider, "contract-late-ice") == []
