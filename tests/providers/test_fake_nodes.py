"""`fake.registerNodes`: the fake cloud plays its machines' kubelets against a real (fake) API server over HTTP.

A running machine's Node is created whole, its launch's taints in the very first version of the object (as
`kubelet --register-with-taints`); terminating the machine deletes it; a registration the API server refused is
made at a later call.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from luna_autoscaler.backoff import Backoff
from luna_autoscaler.config import Config, config_from_mapping
from luna_autoscaler.errors import OfferingRef, ProviderConfigurationError
from luna_autoscaler.kube import CallPolicy
from luna_autoscaler.kube.registration import NodeObjects
from luna_autoscaler.kube.rest import Rest
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import CapacityType, Catalog
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import InstanceState, LaunchRequest, ProviderContext
from luna_autoscaler.simulation.kubelet import Kubelet
from providers.fake import FakeProvider, create
from tests.kubeapi import FakeApiServer, Fault
from tests.providers.harness_fake import ManualClock

GPU_TAINT = Taint("nvidia.com/gpu", "present", "NoSchedule")


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer() as s:
        yield s


@pytest.fixture
def fake(server: FakeApiServer, catalog: Catalog, clock: ManualClock) -> Iterator[FakeProvider]:
    api = server.client()
    rest = Rest(api, policy=CallPolicy(attempts=1, backoff=Backoff(0.01, 0.01)), sleep=lambda s: None)
    yield FakeProvider(
        catalog,
        clock,
        cluster_name="t",
        join_delay_seconds=60,
        node_registrar=Kubelet(NodeObjects(rest), Config(), clock),
    )
    api.close()


def gpu_launch(catalog: Catalog) -> LaunchRequest:
    offering = catalog.find(OfferingRef("g5.xlarge", "us-east-1a", CapacityType.ON_DEMAND.value))
    assert offering is not None
    labels = {**offering.labels(), "team": "ml", lbl.LAUNCH_ID: "l1"}
    return LaunchRequest("l1", "t", (offering,), labels=labels, taints=(GPU_TAINT,))


def node_versions(server: FakeApiServer) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    """(ADDED | MODIFIED | DELETED, object) of every change to a Node the server has seen, oldest first."""
    return [(c.type, c.new) for c in server.store.changes_after(0) if c.resource.kind == "Node"]


def test_a_running_machine_registers_its_whole_node_in_one_write(
    fake: FakeProvider, server: FakeApiServer, catalog: Catalog, clock: ManualClock
) -> None:
    instance = fake.launch(gpu_launch(catalog))
    clock.advance(59)
    fake.list_instances()
    assert server.list("Node") == []  # still booting

    clock.advance(1)
    (listed,) = fake.list_instances()
    assert listed.state == InstanceState.RUNNING
    [(change, first)] = node_versions(server)
    assert change == "ADDED"
    assert first["metadata"]["name"] == instance.instance_id
    assert first["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert first["spec"]["providerID"] == instance.provider_id == f"fake://{instance.instance_id}"
    labels = first["metadata"]["labels"]
    assert labels["team"] == "ml" and labels[lbl.INSTANCE_TYPE] == "g5.xlarge" and labels[lbl.ZONE] == "us-east-1a"
    assert lbl.LAUNCH_ID not in labels  # a per-launch label: the loop adds it once the Node is there
    g5 = catalog.instance_types["g5.xlarge"]
    assert g5.node is not None
    status = first["status"]
    assert status["allocatable"]["nvidia.com/gpu"] == "1" and status["capacity"]["nvidia.com/gpu"] == "1"
    assert status["allocatable"]["cpu"] == g5.node.allocatable.as_quantities()["cpu"]
    assert {"type": "Ready", "status": "True", "reason": "KubeletReady"} in status["conditions"]

    fake.list_instances()
    assert len(node_versions(server)) == 1  # registered once


def test_terminating_the_machine_deletes_its_node(
    fake: FakeProvider, server: FakeApiServer, catalog: Catalog, clock: ManualClock
) -> None:
    instance = fake.launch(gpu_launch(catalog))
    clock.advance(60)
    fake.list_instances()
    assert server.exists("Node", instance.instance_id)

    fake.terminate(instance.instance_id)
    assert not server.exists("Node", instance.instance_id)
    fake.terminate(instance.instance_id)  # again: nothing more to delete, no error


def test_a_refused_registration_is_made_at_a_later_call(
    fake: FakeProvider, server: FakeApiServer, catalog: Catalog, clock: ManualClock
) -> None:
    instance = fake.launch(gpu_launch(catalog))
    clock.advance(60)
    server.inject(Fault(path=r"^/api/v1/nodes", status=503, times=None))
    (listed,) = fake.list_instances()
    assert listed.state == InstanceState.PENDING  # not running until its Node is there
    server.clear_faults()
    (listed,) = fake.list_instances()
    assert listed.state == InstanceState.RUNNING and server.exists("Node", instance.instance_id)


def test_register_nodes_where_nothing_can_register_them_is_a_configuration_error() -> None:
    config = config_from_mapping({"fake.registerNodes": "true", "fake.joinDelay": "5s"})
    with pytest.raises(ProviderConfigurationError, match=r"fake\.registerNodes"):
        create(ProviderContext(config=config, cluster_name="t", clock=ManualClock()))
