"""The AKS provider through the real azure-mgmt-containerservice client against the recording ARM server: agent
pools per node configuration, 201 + Azure-AsyncOperation polled one check per call, launch identity in pool tags,
machines named from the pool, terminate by name, failures found in operations, evictions."""

from __future__ import annotations

import pytest

from luna_autoscaler.errors import InsufficientCapacity, ProviderConfigurationError
from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from luna_autoscaler.models.gpu_mode import DEVICE_PLUGIN_CONFIG_LABEL, GpuMode
from luna_autoscaler.models.resources import NVIDIA_GPU
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import PROVISIONAL_PREFIX, TAG_GANG, InstanceState, InterruptionKind, LaunchRequest
from providers.azure.pools import pool_name
from tests.azure.arm_server import CLUSTER, RecordingArmServer
from tests.azure.conftest import ProviderFactory


def cheapest(catalog: Catalog, capacity: CapacityType, *, gpu: bool = False, skip: int = 0) -> Offering:
    found = sorted(
        (
            o
            for o in catalog
            if o.capacity_type is capacity and (o.instance_type.accelerator is not None) == gpu
            if o.instance_type.arch.value == "amd64"
            if not gpu
            or (o.instance_type.accelerator.resource_name == NVIDIA_GPU and not o.instance_type.accelerator.fractional)  # type: ignore[union-attr]
        ),
        key=lambda o: (o.price_usd_per_hour, o.name, o.zone),
    )
    return found[skip]


def request(launch_id: str, offering: Offering, **kwargs: object) -> LaunchRequest:
    return LaunchRequest(launch_id, CLUSTER, (offering,), **kwargs)  # type: ignore[arg-type]


def puts(server: RecordingArmServer) -> list[dict[str, object]]:
    return [r.body for r in server.requests if r.method == "PUT"]


def test_a_launch_is_one_pool_put_answered_later_by_a_named_machine(
    server: RecordingArmServer, make_provider: ProviderFactory
) -> None:
    provider = make_provider()
    spot = cheapest(provider.catalog(), CapacityType.SPOT)
    taint = Taint("team", "ml", "NoSchedule")

    submitted = provider.launch(request("l-1", spot, labels={"team": "ml"}, taints=(taint,)))

    assert submitted.instance_id == f"{PROVISIONAL_PREFIX}l-1" and not submitted.identified
    (body,) = puts(server)
    props = body["properties"]  # type: ignore[index]
    assert props["count"] == 1 and props["vmSize"] == spot.name
    assert (props["scaleSetPriority"], props["scaleSetEvictionPolicy"], props["spotMaxPrice"]) == ("Spot", "Delete", -1)
    assert props["nodeLabels"]["team"] == "ml" and props["nodeLabels"]["karpenter.sh/capacity-type"] == "spot"
    assert not any(k.startswith(("kubernetes.io/", "topology.kubernetes.io/")) for k in props["nodeLabels"])
    assert props["nodeTaints"] == ["team=ml:NoSchedule"]  # AKS adds its spot taint itself
    assert props["tags"]["luna.elotl.co_launch_l-1"]

    polls_before = len(server.operations_of("GET", "/operations/"))
    (pending,) = provider.list_instances()
    assert pending.state is InstanceState.PENDING and not pending.identified
    assert len(server.operations_of("GET", "/operations/")) == polls_before + 1  # one status check per call

    server.finish_operations()
    (ready,) = provider.list_instances()
    assert ready.launch_id == "l-1" and ready.identified
    assert ready.instance_id == f"aks-{pool_name(submitted.configuration)}-12345678-vmss000000"  # type: ignore[arg-type]
    assert (
        ready.provider_id.startswith("azure:///subscriptions/")
        and "/resourceGroups/mc_gpu-rg_gpu-aks_eastus/" in ready.provider_id
    )
    assert provider.instance_id_of(ready.provider_id) == ready.instance_id
    assert ready.configuration is not None and ready.configuration.taints == (taint,)


def test_launches_of_one_configuration_while_its_pool_is_busy_become_one_scale(
    server: RecordingArmServer, make_provider: ProviderFactory
) -> None:
    provider = make_provider()
    od = cheapest(provider.catalog(), CapacityType.ON_DEMAND)
    provider.launch(request("a", od))
    provider.launch(request("b", od))
    provider.launch(request("c", od))
    assert len(puts(server)) == 1
    assert {i.launch_id for i in provider.list_instances()} == {"a", "b", "c"}

    server.finish_operations()
    provider.list_instances()  # sees the first operation done
    provider.list_instances()  # the pool reads idle: the queued two go in one PUT
    assert [p["properties"]["count"] for p in puts(server)] == [1, 3]  # type: ignore[index]
    server.finish_operations()
    listed = provider.list_instances()
    assert sorted(i.instance_id[-6:] for i in listed) == ["000000", "000001", "000002"]
    assert all(i.state is InstanceState.RUNNING for i in listed)


def test_a_restarted_provider_finds_its_launches_in_the_pool_tags_and_launches_nothing_again(
    server: RecordingArmServer, make_provider: ProviderFactory
) -> None:
    first = make_provider()
    gpu = cheapest(first.catalog(), CapacityType.ON_DEMAND, gpu=True)
    mode = GpuMode.time_sliced(gpu.instance_type.gpus, 4, renamed=False)
    launch = request("gpu-1", gpu, labels=dict(mode.node_labels()), gpu_mode=mode)
    first.launch(launch)

    restarted = make_provider()
    (found,) = restarted.list_instances()
    assert found.launch_id == "gpu-1" and found.configuration is not None
    assert found.configuration.gpu_mode == mode  # recovered from the pool's labels, not guessed
    assert found.configuration.labels[DEVICE_PLUGIN_CONFIG_LABEL] == mode.config_name
    again = restarted.launch(launch)
    assert again.launch_id == "gpu-1" and len(puts(server)) == 1


def test_terminating_a_machine_deletes_it_by_name_and_it_leaves_the_list(
    server: RecordingArmServer, make_provider: ProviderFactory
) -> None:
    server.auto_finish = True
    provider = make_provider()
    od = cheapest(provider.catalog(), CapacityType.ON_DEMAND)
    provider.launch(request("t", od))
    provider.list_instances()
    (machine,) = provider.list_instances()
    assert machine.identified

    provider.terminate(machine.instance_id)
    provider.terminate(machine.instance_id)

    (deletion,) = server.operations_of("POST", "/deleteMachines")
    assert deletion.body == {"machineNames": [machine.instance_id]}
    assert provider.list_instances() == []
    assert server.pools[pool_name(machine.configuration)].properties["count"] == 0  # type: ignore[arg-type]


def test_terminating_a_launch_without_a_machine_lowers_the_count_and_forgets_it(
    server: RecordingArmServer, make_provider: ProviderFactory
) -> None:
    provider = make_provider()
    od = cheapest(provider.catalog(), CapacityType.ON_DEMAND)
    server.fail_next_operation(
        "ReconcileVMSSAgentPoolFailed",
        'Code="OverconstrainedAllocationRequest" Message="Allocation failed. VM(s) with the following constraints '
        'cannot be allocated, because the condition is too restrictive."',
    )
    provider.launch(request("x", od))
    provider.launch(request("queued", od))
    provider.terminate(f"{PROVISIONAL_PREFIX}queued")  # never sent: dropped here
    server.finish_operations()
    (failed,) = provider.list_instances()
    assert failed.state is InstanceState.FAILED and isinstance(failed.failure, InsufficientCapacity)
    assert od.ref in failed.failure.offerings

    provider.terminate(failed.instance_id)  # sent, no machine: count - 1 and the tag dropped

    last = puts(server)[-1]["properties"]  # type: ignore[index]
    assert last["count"] == 0 and "luna.elotl.co_launch_x" not in last["tags"]
    assert provider.list_instances() == []
    provider.terminate(f"{PROVISIONAL_PREFIX}never-launched")


def test_a_stockout_found_by_the_operation_is_a_failed_instance_for_that_zone(
    server: RecordingArmServer, make_provider: ProviderFactory
) -> None:
    provider = make_provider(zones=["1", "2"])
    od = cheapest(provider.catalog(), CapacityType.ON_DEMAND)
    assert od.zone in ("eastus-1", "eastus-2")
    server.no_capacity(od.name, od.zone[-1], "Regular")
    provider.launch(request("ice", od))
    assert puts(server)[0]["properties"]["availabilityZones"] == [od.zone[-1]]  # type: ignore[index]

    server.finish_operations()
    (failed,) = provider.list_instances()

    assert failed.state is InstanceState.FAILED and isinstance(failed.failure, InsufficientCapacity)
    assert set(failed.failure.offerings) == {od.ref, od.ref.__class__(od.name, od.zone, "spot")}
    assert failed.failure.ttl_seconds == 3600  # type: ignore[attr-defined]
    provider.terminate(failed.instance_id)
    assert provider.list_instances() == []


def test_a_status_check_that_fails_leaves_the_operation_running(
    server: RecordingArmServer, make_provider: ProviderFactory
) -> None:
    provider = make_provider()
    provider.launch(request("slow", cheapest(provider.catalog(), CapacityType.ON_DEMAND)))
    server.fail("GET operation", 503, "ServiceUnavailable", "try later")
    (still,) = provider.list_instances()
    assert still.state is InstanceState.PENDING
    server.finish_operations()
    assert provider.list_instances()[0].identified


def test_a_spot_machine_that_vanishes_is_an_interruption(
    server: RecordingArmServer, make_provider: ProviderFactory
) -> None:
    server.auto_finish = True
    provider = make_provider()
    provider.launch(request("s", cheapest(provider.catalog(), CapacityType.SPOT)))
    provider.list_instances()
    (machine,) = provider.list_instances()
    assert provider.poll_interruptions() == ()

    server.evict(machine.instance_id)
    assert provider.list_instances() == []
    (notice,) = provider.poll_interruptions()
    assert (notice.instance_id, notice.kind) == (machine.instance_id, InterruptionKind.SPOT_INTERRUPTION)
    assert provider.poll_interruptions() == ()


def test_gpu_driver_install_can_be_skipped_for_gpu_operator_clusters(
    server: RecordingArmServer, make_provider: ProviderFactory
) -> None:
    provider = make_provider(skipGpuDriverInstall=True)
    provider.launch(request("g", cheapest(provider.catalog(), CapacityType.ON_DEMAND, gpu=True)))
    provider.launch(request("c", cheapest(provider.catalog(), CapacityType.ON_DEMAND)))
    gpu_pool, cpu_pool = (p["properties"] for p in puts(server))  # type: ignore[index]
    assert gpu_pool["gpuProfile"] == {"driver": "None"}
    assert "gpuProfile" not in cpu_pool


def test_other_clusters_pools_and_the_system_pool_are_not_ours(
    server: RecordingArmServer, make_provider: ProviderFactory
) -> None:
    make_provider().launch(request("mine", cheapest(make_provider().catalog(), CapacityType.ON_DEMAND)))
    other = make_provider()
    other._cluster_name = "another-cluster"
    assert other.list_instances() == []
    other.terminate("aks-nodepool1-12345678-vmss000000")
    assert server.operations_of("POST", "/deleteMachines") == []


def test_required_settings_are_named() -> None:
    from luna_autoscaler.config import config_from_mapping
    from luna_autoscaler.ports import ProviderContext
    from providers.azure import create
    from tests.aws.clock import FakeClock

    with pytest.raises(ProviderConfigurationError, match=r"azure\.subscriptionId"):
        create(
            ProviderContext(
                config=config_from_mapping({"azure": {"resourceGroup": "rg"}}), cluster_name="c", clock=FakeClock()
            )
        )


def test_a_pool_does_not_keep_the_gang_tag_of_the_launch_that_made_it(
    server: RecordingArmServer, make_provider: ProviderFactory
) -> None:
    """Pool tags are shared by every later launch into the pool: a per-launch gang tag there would be wrong."""
    provider = make_provider()
    spot = cheapest(provider.catalog(), CapacityType.SPOT)

    provider.launch(request("l-1", spot, tags={TAG_GANG: "l-1.2", "team": "ml"}))

    (body,) = puts(server)
    tags = body["properties"]["tags"]  # type: ignore[index]
    assert tags["team"] == "ml" and not any("gang" in k for k in tags)
