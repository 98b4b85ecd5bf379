"""Launching GKE nodes through node pools with the real google-cloud-container and google-cloud-compute clients
against the recording server: pool creation polled across calls, one named instance per launch, idempotency,
restart, removal of one node, and the node pool spec GKE receives."""

from __future__ import annotations

from dataclasses import replace

import pytest

from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import TAG_CLUSTER, TAG_GANG, TAG_LAUNCH_ID, TAG_NODE_POOL, Instance, InstanceState
from providers.gcp.pools import RECORD_KEY
from providers.gcp.provider import GkeProvider
from tests.aws.clock import FakeClock
from tests.gcp import world
from tests.gcp.recording_server import RecordingGcpServer
from tests.gcp.requests import offering, request


def only(instances: object, launch_id: str) -> Instance:
    (found,) = [i for i in instances if i.launch_id == launch_id]  # type: ignore[attr-defined]
    return found


def test_first_launch_creates_the_pool_and_returns_at_once_with_the_nodes_identity(
    provider: GkeProvider, server: RecordingGcpServer
) -> None:
    t4 = offering(provider.catalog(), "n1-standard-4_t4x1", CapacityType.SPOT, "us-central1-a")
    instance = provider.launch(request("a1b2c3d4e5f6a7b8c9d0", t4))

    assert server.routes() == ["listNodePools", "createNodePool"]  # submitted, never waited on
    pool = next(iter(server.pools))
    assert instance.instance_id == f"{pool}-a1b2c3d4e5f6a7b8c9d0"
    assert instance.provider_id == f"gce://{world.PROJECT}/us-central1-a/{instance.instance_id}"
    assert provider.instance_id_of(instance.provider_id) == instance.instance_id
    assert instance.state is InstanceState.PENDING and instance.offering == t4.ref
    assert instance.tags[TAG_LAUNCH_ID] == "a1b2c3d4e5f6a7b8c9d0" and instance.tags[TAG_NODE_POOL] == "pack"
    assert instance.configuration is not None and instance.configuration.labels["team"] == "ml"


def test_the_pool_spec_has_machine_type_accelerator_spot_labels_taints_and_no_node(
    provider: GkeProvider, server: RecordingGcpServer
) -> None:
    t4 = offering(provider.catalog(), "n1-standard-4_t4x1", CapacityType.SPOT, "us-central1-a")
    taint = Taint("nvidia.com/gpu", "present", "NoSchedule")
    provider.launch(request("l1", t4, taints=(taint,)))

    (created,) = server.calls("createNodePool")
    pool = created.body["nodePool"]
    config = pool["config"]
    assert created.path == f"/v1/projects/{world.PROJECT}/locations/{world.REGION}/clusters/{world.CLUSTER}/nodePools"
    assert pool["locations"] == ["us-central1-a"] and int(pool.get("initialNodeCount", 0)) == 0
    assert config["machineType"] == "n1-standard-4" and config["spot"] is True
    (accelerator,) = config["accelerators"]
    assert accelerator["acceleratorType"] == "nvidia-tesla-t4" and int(accelerator["acceleratorCount"]) == 1
    assert accelerator["gpuDriverInstallationConfig"]["gpuDriverVersion"] in ("DEFAULT", 2)
    assert "gpuSharingConfig" not in accelerator
    assert config["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": 1}
    ]  # NO_SCHEDULE: the REST clients send enums as numbers
    assert config["labels"]["team"] == "ml" and config["labels"]["karpenter.sh/capacity-type"] == "spot"
    # GKE and the kubelet set these themselves; GKE refuses them in a pool's labels.
    assert not [k for k in config["labels"] if "kubernetes.io" in k or k.startswith("cloud.google.com/")]
    assert "node.elotl.co/launch-id" not in config["labels"]  # per launch: the loop labels the Node
    assert config["resourceLabels"]["luna-cluster"] == world.CLUSTER
    assert RECORD_KEY in config["metadata"]


def test_a_time_sliced_mode_is_gke_time_sharing_and_its_labels_are_registered(
    provider: GkeProvider, server: RecordingGcpServer
) -> None:
    l4 = offering(provider.catalog(), "g2-standard-8", CapacityType.ON_DEMAND, "us-central1-a")
    mode = GpuMode.time_sliced(1, 4, renamed=False)
    instance = provider.launch(request("sliced", l4, gpu_mode=mode))

    (accelerator,) = server.calls("createNodePool")[0].body["nodePool"]["config"]["accelerators"]
    assert accelerator["acceleratorType"] == "nvidia-l4"
    sharing = accelerator["gpuSharingConfig"]
    assert int(sharing["maxSharedClientsPerGpu"]) == 4 and sharing["gpuSharingStrategy"] in ("TIME_SHARING", 1)
    assert instance.configuration is not None
    assert instance.configuration.labels["cloud.google.com/gke-gpu-sharing-strategy"] == "time-sharing"
    assert instance.configuration.labels["cloud.google.com/gke-max-shared-clients-per-gpu"] == "4"
    assert instance.configuration.gpu_mode == mode


def test_without_gkes_driver_the_gpu_operator_slices_and_gke_labels_no_time_sharing(
    server: RecordingGcpServer, clock: FakeClock
) -> None:
    gke = world.provider(server, clock, pricingRefreshInterval=0, gpuDriverVersion="INSTALLATION_DISABLED")
    l4 = offering(gke.catalog(), "g2-standard-8", CapacityType.ON_DEMAND, "us-central1-a")
    assert l4.time_sharing is None  # so the planner never promises GKE's time-sharing labels

    instance = gke.launch(request("operator", l4, gpu_mode=GpuMode.time_sliced(1, 4, renamed=True)))

    (accelerator,) = server.calls("createNodePool")[0].body["nodePool"]["config"]["accelerators"]
    assert "gpuSharingConfig" not in accelerator
    assert instance.configuration is not None
    assert not [k for k in instance.configuration.labels if k.startswith("cloud.google.com/gke-gpu-sharing")]
    assert instance.configuration.labels["nvidia.com/device-plugin.config"] == "luna-timeslice-4-shared"


def test_a_renamed_shared_mode_needs_the_gpu_operator_on_gke(provider: GkeProvider) -> None:
    from luna_autoscaler.errors import ProviderConfigurationError

    l4 = offering(provider.catalog(), "g2-standard-8", CapacityType.ON_DEMAND, "us-central1-a")
    with pytest.raises(ProviderConfigurationError, match="INSTALLATION_DISABLED"):
        provider.launch(request("renamed", l4, gpu_mode=GpuMode.time_sliced(1, 4, renamed=True)))


def test_held_launches_get_their_instance_once_the_pool_operation_is_done(
    provider: GkeProvider, server: RecordingGcpServer
) -> None:
    e2 = offering(provider.catalog(), "e2-standard-4", zone="us-central1-b")
    provider.launch(request("first", e2))
    provider.launch(request("second", e2))  # same configuration: same pool, still provisioning
    assert len(server.calls("createNodePool")) == 1 and not server.calls("createInstances")

    listed = provider.list_instances()  # polls the operation: DONE, the pool is RUNNING with its group

    assert server.calls("getOperation")
    names = sorted(c.body["instances"][0]["name"] for c in server.calls("createInstances"))
    assert names == sorted(i.instance_id for i in listed) and len(names) == 2
    assert all(c.query["requestId"] for c in server.calls("createInstances"))
    assert {i.state for i in listed} == {InstanceState.PENDING}
    server.boot()
    assert {i.state for i in provider.list_instances()} == {InstanceState.RUNNING}


def test_a_pool_that_takes_several_polls_holds_its_launch_across_calls(
    server: RecordingGcpServer, clock: FakeClock
) -> None:
    server.pool_polls = 3
    gke = world.provider(server, clock, pricingRefreshInterval=0)
    e2 = offering(gke.catalog(), "e2-standard-4")
    gke.launch(request("slow", e2))

    for _ in range(2):
        assert [i.state for i in gke.list_instances()] == [InstanceState.PENDING]
        assert not server.calls("createInstances")
    gke.list_instances()
    assert len(server.calls("getOperation")) == 3 and len(server.calls("createInstances")) == 1


def test_a_launch_on_a_running_pool_adds_one_named_instance_and_replays_launch_nothing(
    provider: GkeProvider, server: RecordingGcpServer
) -> None:
    e2 = offering(provider.catalog(), "e2-standard-4")
    provider.launch(request("warm-up", e2))
    provider.list_instances()

    first = provider.launch(request("0123456789abcdef0123", e2))
    again = provider.launch(request("0123456789abcdef0123", e2))

    assert again.instance_id == first.instance_id
    creates = [c for c in server.calls("createInstances") if c.body["instances"][0]["name"] == first.instance_id]
    assert len(creates) == 2 and creates[0].query["requestId"] == creates[1].query["requestId"]  # GCE drops the replay
    assert len(only(provider.list_instances(), "0123456789abcdef0123").instance_id) > 0
    assert len(server.groups[next(iter(server.groups))].instances) == 2


def test_a_restart_finds_every_instance_with_its_configuration_and_tags(
    provider: GkeProvider, server: RecordingGcpServer, clock: FakeClock
) -> None:
    t4 = offering(provider.catalog(), "n1-standard-4_t4x1", CapacityType.SPOT, "us-central1-a")
    launched = provider.launch(request("before-restart", t4, gpu_mode=GpuMode.time_sliced(1, 2, renamed=False)))

    restarted = world.provider(server, clock, pricingRefreshInterval=0)
    found = only(restarted.list_instances(), "before-restart")  # the pool's first launch, from its record

    assert found.instance_id == launched.instance_id
    assert found.configuration == launched.configuration
    assert found.tags[TAG_CLUSTER] == world.CLUSTER and found.tags["cost-center"] == "research"
    assert len(server.calls("createInstances")) == 1


def test_another_clusters_pools_are_not_ours(server: RecordingGcpServer, clock: FakeClock) -> None:
    ours = world.provider(server, clock, pricingRefreshInterval=0)
    theirs = world.provider(server, clock, cluster_name="other", pricingRefreshInterval=0)
    e2 = offering(ours.catalog(), "e2-standard-4")
    theirs.launch(request("theirs", e2, cluster="other"))
    theirs.list_instances()

    assert ours.list_instances() == ()


def test_terminate_deletes_that_one_instance_and_a_held_launch_is_cancelled(
    provider: GkeProvider, server: RecordingGcpServer
) -> None:
    e2 = offering(provider.catalog(), "e2-standard-4")
    keep = provider.launch(request("keep", e2))
    cancelled = provider.launch(request("cancel", e2))
    provider.terminate(Instance.provisional_id("cancel"))  # still held: nothing to delete
    assert not server.calls("deleteInstances")

    provider.list_instances()
    provider.terminate(keep.instance_id)
    provider.terminate(keep.instance_id)

    (group,) = server.groups.values()
    assert group.instances == {} and cancelled.instance_id not in {
        c.body["instances"][0]["name"] for c in server.calls("createInstances")
    }
    delete = server.calls("deleteInstances")[0]
    assert delete.body["instances"] == [f"zones/{group.zone}/instances/{keep.instance_id}"]
    assert delete.body["skipInstancesOnValidationError"] is True and delete.query["requestId"]
    assert provider.list_instances() == ()


def test_terminate_of_what_is_not_ours_or_gone_is_success(provider: GkeProvider, server: RecordingGcpServer) -> None:
    provider.terminate("gke-ml-cluster-default-pool-1234abcd-x7k2")
    provider.terminate(Instance.provisional_id("never-launched"))
    assert not server.calls("deleteInstances")


def test_instance_id_of_ignores_other_projects_and_clouds(provider: GkeProvider) -> None:
    assert provider.instance_id_of("gce://other-project/us-central1-a/luna-abc-1") is None
    assert provider.instance_id_of("aws:///us-east-1a/i-0123456789abcdef0") is None


def test_a_pool_does_not_keep_the_gang_tag_of_the_launch_that_made_it(provider: GkeProvider) -> None:
    """Pool tags are shared by every later launch into the pool: a per-launch gang tag there would be wrong."""
    t4 = offering(provider.catalog(), "n1-standard-4_t4x1", CapacityType.SPOT, "us-central1-a")
    gang = request("a1b2c3d4e5f6a7b8c9d0", t4)
    gang = replace(gang, tags={**gang.tags, TAG_GANG: "a1b2c3d4e5f6a7b8c9d0.2"})

    provider.launch(gang)
    provider.launch(request("b1b2c3d4e5f6a7b8c9d0", t4))

    listed = provider.list_instances()  # read back from the pool, as after a restart
    assert len(listed) == 2 and all(i.tags["cost-center"] == "research" and TAG_GANG not in i.tags for i in listed)
