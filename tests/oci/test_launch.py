"""Launching OKE nodes through the real oci SDK against the recording server: the request OCI receives, the
instance we return and find again, idempotency, work requests polled across calls, and termination."""

from __future__ import annotations

import base64
import json

import pytest

from luna_autoscaler.models.catalog import Arch, CapacityType, Catalog, Offering
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import TAG_CLUSTER, TAG_LAUNCH_ID, Instance, InstanceState, LaunchRequest
from providers.oci.provider import OciProvider, display_name, retry_token
from tests.aws.clock import FakeClock
from tests.oci import world
from tests.oci.conftest import CLUSTER, MakeProvider
from tests.oci.recording_server import RecordingOciServer


def offering(catalog: Catalog, name: str, capacity: CapacityType = CapacityType.ON_DEMAND) -> Offering:
    return next(o for o in catalog if o.name == name and o.capacity_type is capacity)


def request(launch_id: str, *offerings: Offering, **kw: object) -> LaunchRequest:
    return LaunchRequest(launch_id=launch_id, cluster_name=CLUSTER, offerings=offerings, **kw)  # type: ignore[arg-type]


def launch_body(server: RecordingOciServer, index: int = -1) -> dict[str, object]:
    body = server.calls("LaunchInstance")[index].body
    assert isinstance(body, dict)
    return body


def test_flexible_cpu_shape_is_launched_sized_with_the_node_image_labels_and_taints(
    provider: OciProvider, server: RecordingOciServer
) -> None:
    e4 = offering(provider.catalog(), "VM.Standard.E4.Flex.4o.64g")
    taint = Taint("dedicated", "ml", "NoSchedule")
    instance = provider.launch(request("launch-flex", e4, labels={"team": "ml"}, taints=(taint,)))

    body = launch_body(server)
    assert body["shape"] == "VM.Standard.E4.Flex"
    assert body["shapeConfig"] == {"ocpus": 4.0, "memoryInGBs": 64.0}
    assert body["availabilityDomain"] == f"Uocm:{e4.zone}"
    assert body["compartmentId"] == world.COMPARTMENT
    assert body["displayName"] == display_name(CLUSTER, "launch-flex")
    assert body["sourceDetails"] == {"sourceType": "image", "imageId": world.IMAGE, "bootVolumeSizeInGBs": 100}
    assert body["createVnicDetails"]["subnetId"] == world.SUBNET
    assert "preemptibleInstanceConfig" not in body
    metadata = body["metadata"]
    assert "team=ml" in metadata["oke-initial-node-labels"].split(",")
    assert metadata["oke-is-preemptible"] == "false"
    script = base64.b64decode(metadata["user_data"]).decode()
    assert "bash /etc/oke/oke-install.sh" in script and "--apiserver-endpoint 10.0.0.10:6443" in script
    assert "--register-with-taints=dedicated=ml:NoSchedule" in script
    headers = server.calls("LaunchInstance")[-1].headers
    assert headers["opc-retry-token"] == retry_token(CLUSTER, "launch-flex", e4.ref)
    assert headers["authorization"].startswith("Signature ") and 'algorithm="rsa-sha256"' in headers["authorization"]

    assert instance.instance_id.startswith("ocid1.instance.") and instance.provider_id == instance.instance_id
    assert instance.state is InstanceState.PENDING and instance.identified
    assert instance.configuration is not None and instance.configuration.taints == (taint,)


def test_preemptible_gpu_launch_terminates_on_preemption_and_uses_the_gpu_image(
    provider: OciProvider, server: RecordingOciServer
) -> None:
    gpu = offering(provider.catalog(), "VM.GPU3.1", CapacityType.SPOT)
    provider.launch(request("launch-gpu", gpu, gpu_mode=GpuMode("nvidia.com/gpu", 1)))

    body = launch_body(server)
    assert body["shape"] == "VM.GPU3.1" and "shapeConfig" not in body
    assert body["preemptibleInstanceConfig"] == {"preemptionAction": {"type": "TERMINATE", "preserveBootVolume": False}}
    assert body["sourceDetails"]["imageId"] == world.GPU_IMAGE
    assert body["metadata"]["oke-is-preemptible"] == "true"


def test_native_pod_networking_metadata_and_fault_domain(
    make_provider: MakeProvider, server: RecordingOciServer
) -> None:
    provider = make_provider(
        podSubnetIds=["ocid1.subnet.oc1.sjc.pods"],
        podNsgIds=["ocid1.nsg.pods"],
        maxPods=31,
        faultDomains=["FAULT-DOMAIN-2"],
    )
    provider.launch(request("launch-npn", offering(provider.catalog(), "VM.Standard.E5.Flex.2o.16g")))

    body = launch_body(server)
    assert body["faultDomain"] == "FAULT-DOMAIN-2"
    metadata = body["metadata"]
    assert metadata["oke-native-pod-networking"] == "true" and metadata["oke-max-pods"] == "31"
    assert metadata["pod-subnets"] == "ocid1.subnet.oc1.sjc.pods" and metadata["pod-nsgids"] == "ocid1.nsg.pods"


def test_a_replayed_launch_returns_the_same_instance_even_from_a_new_process(
    make_provider: MakeProvider, server: RecordingOciServer
) -> None:
    first_process = make_provider()
    e4 = offering(first_process.catalog(), "VM.Standard.E4.Flex.1o.8g")
    first = first_process.launch(request("launch-replay", e4, labels={"team": "a"}))

    restarted = make_provider()
    again = restarted.launch(request("launch-replay", e4, labels={"team": "a"}))

    assert again.instance_id == first.instance_id
    assert len(server.calls("LaunchInstance")) == 1
    listed = [i for i in restarted.list_instances() if i.launch_id == "launch-replay"]
    assert [i.instance_id for i in listed] == [first.instance_id]
    assert listed[0].configuration == first.configuration  # rebuilt from the instance's metadata


def test_list_instances_pages_and_shows_only_this_clusters_instances(
    provider: OciProvider, server: RecordingOciServer
) -> None:
    e4 = offering(provider.catalog(), "VM.Standard.E4.Flex.1o.8g")
    launched = [provider.launch(request(f"launch-{n}", e4)) for n in range(3)]
    server.state.instances["ocid1.instance.oc1.sjc.someone-else"] = {
        **server.state.instances[launched[0].instance_id],
        "id": "ocid1.instance.oc1.sjc.someone-else",
        "freeformTags": {TAG_CLUSTER: "another-cluster"},
    }

    listed = provider.list_instances()

    assert sorted(i.instance_id for i in listed) == sorted(i.instance_id for i in launched)
    assert all(i.tags[TAG_CLUSTER] == CLUSTER for i in listed)
    assert any("page" in r.query for r in server.calls("ListInstances"))  # more than one page was read


def test_work_request_is_polled_across_calls_and_running_is_reported(
    provider: OciProvider, server: RecordingOciServer
) -> None:
    instance = provider.launch(request("launch-wr", offering(provider.catalog(), "VM.Standard.E4.Flex.1o.8g")))

    assert [i.state for i in provider.list_instances()] == [InstanceState.PENDING]
    server.finish_work_request(instance.instance_id, "SUCCEEDED")
    server.set_state(instance.instance_id, "RUNNING")
    assert [i.state for i in provider.list_instances()] == [InstanceState.RUNNING]
    provider.list_instances()

    assert len(server.calls("GetWorkRequest")) == 1  # polled while pending, never again once it ran


def test_terminate_by_instance_id_and_by_provisional_handle(provider: OciProvider, server: RecordingOciServer) -> None:
    e4 = offering(provider.catalog(), "VM.Standard.E4.Flex.1o.8g")
    a = provider.launch(request("launch-a", e4))
    b = provider.launch(request("launch-b", e4))

    provider.terminate(a.instance_id)
    provider.terminate(Instance.provisional_id("launch-b"))
    provider.terminate("ocid1.instance.oc1.sjc.never-existed")

    assert provider.list_instances() == []
    terminated = [r.path.rsplit("/", 1)[1] for r in server.calls("TerminateInstance")]
    assert terminated[:2] == [a.instance_id, b.instance_id]
    assert all(r.query.get("preserveBootVolume") == "false" for r in server.calls("TerminateInstance"))


def test_provider_ids_of_oke_nodes_map_to_instances(provider: OciProvider) -> None:
    ocid = "ocid1.instance.oc1.sjc.anzwuljrabc"
    assert provider.instance_id_of(ocid) == ocid
    assert provider.instance_id_of(f"oci://{ocid}") == ocid
    assert provider.instance_id_of("aws:///us-east-1a/i-0123") is None


def test_catalog_places_the_shapes_in_the_clusters_availability_domains_and_prices_them_live(
    provider: OciProvider, server: RecordingOciServer
) -> None:
    catalog = provider.catalog()

    assert catalog.zones() == ("US-SANJOSE-1-AD-1", "US-SANJOSE-1-AD-2")
    assert all(o.instance_type.arch is not Arch.ARM64 for o in catalog)  # no Arm image configured
    e4 = offering(catalog, "VM.Standard.E4.Flex.4o.64g")
    assert e4.price_usd_per_hour == pytest.approx(4 * 0.025 + 64 * 0.0015)
    assert e4.provenance.source == "OCI price list API (live)"
    assert offering(catalog, "VM.Standard.E4.Flex.4o.64g", CapacityType.SPOT).price_usd_per_hour == pytest.approx(
        e4.price_usd_per_hour / 2
    )
    assert len(server.calls("ListProducts")) == 2  # both pages


def test_arm_shapes_are_offered_with_an_arm_image(make_provider: MakeProvider, server: RecordingOciServer) -> None:
    provider = make_provider(armImageId="ocid1.image.oc1.sjc.arm")
    a1 = offering(provider.catalog(), "VM.Standard.A1.Flex.2o.12g")
    assert a1.price_usd_per_hour == pytest.approx(2 * 0.01 + 12 * 0.0015)  # the paid tier, not the free allowance

    provider.launch(request("launch-arm", a1))
    assert launch_body(server)["sourceDetails"]["imageId"] == "ocid1.image.oc1.sjc.arm"


def test_the_recorded_node_configuration_survives_a_restart(
    make_provider: MakeProvider, server: RecordingOciServer, clock: FakeClock
) -> None:
    provider = make_provider()
    gpu = offering(provider.catalog(), "VM.GPU.A10.1")
    mode = GpuMode("nvidia.com/gpu", 4, replicas=4, config_name="a10-x4")
    launched = provider.launch(request("launch-mode", gpu, gpu_mode=mode))

    (listed,) = make_provider().list_instances()

    assert listed.configuration is not None and listed.configuration.gpu_mode == mode
    assert listed.configuration.key == launched.configuration.key  # type: ignore[union-attr]
    recorded = json.loads(server.state.instances[launched.instance_id]["metadata"]["luna-node-configuration"])
    assert recorded["instance_type"] == "VM.GPU.A10.1"
    assert listed.tags[TAG_LAUNCH_ID] == "launch-mode"
