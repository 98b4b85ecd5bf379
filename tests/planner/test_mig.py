"""MIG: pods requesting `nvidia.com/mig-*` get MIG-capable GPUs partitioned by a valid layout chosen by cost; the
node is labelled with the layout for the GPU operator's MIG manager; bad or impossible profiles are reasons."""

from __future__ import annotations

import pytest

from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.mig import (
    MIG_CONFIG_LABEL,
    layout_named,
    layouts,
    mig_parted_config,
    placeable,
)
from luna_autoscaler.models.resources import NVIDIA_GPU
from luna_autoscaler.planner.shapes import MIG_SINGLE_TAINT
from pricing.catalog import load_catalog
from tests.planner.conftest import config, pod, run

MIG_1G = "nvidia.com/mig-1g.10gb"
MIG_3G = "nvidia.com/mig-3g.40gb"
A100_80 = config(migPartitioning={"gpuSkus": ["A100-80GB"]})
TOLERATES_GPU = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


@pytest.fixture(scope="module")
def gcp():  # a2-ultragpu-{1,2,4,8}g: A100 80GB, and a2-highgpu: A100 40GB
    return load_catalog("gcp", "us-central1")


def mig_pod(name: str, resource: str, **kw):
    return pod(name, "1", "4Gi", **{resource: "1"}, **kw)


def test_placement_rules_are_nvidias_not_just_compute_slices() -> None:
    assert placeable("A100-80GB", {"1g.10gb": 7})
    assert not placeable("A100-80GB", {"1g.10gb": 8})
    assert placeable("A100-80GB", {"4g.40gb": 1, "3g.40gb": 1})
    assert placeable("A100-80GB", {"3g.40gb": 1, "2g.20gb": 2})
    assert not placeable("A100-80GB", {"3g.40gb": 2, "1g.10gb": 1})  # 7 compute slices, but no memory slice left
    assert placeable("A100-80GB", {"1g.20gb": 4}) and not placeable("A100-80GB", {"1g.20gb": 4, "1g.10gb": 1})
    assert not placeable("A100-80GB", {"1g.5gb": 1})  # a 40 GB profile
    names = [layout.name for layout in layouts("A100-80GB")]
    assert names[:7] == [
        "all-1g.10gb",
        "all-1g.20gb",
        "all-2g.20gb",
        "all-3g.40gb",
        "all-4g.40gb",
        "all-7g.80gb",
        "all-balanced",
    ]
    assert all(placeable("A100-80GB", dict(layout.per_gpu)) for layout in layouts("A100-80GB"))


def test_seven_1g_pods_fit_one_a100_80gb_gpu(gcp) -> None:
    result = run([mig_pod(f"m{i}", MIG_1G) for i in range(7)], gcp, A100_80)

    assert not result.unplaced
    (node,) = result.new_nodes
    assert node.offering.instance_type.name == "a2-ultragpu-1g"
    assert node.labels[MIG_CONFIG_LABEL] == "all-1g.10gb"
    assert node.allocatable.get(MIG_1G) == 7 and node.allocatable.get(NVIDIA_GPU) == 0
    assert [str(t) for t in node.taints] == [f"{MIG_1G}=present:NoSchedule"]


def test_fourteen_1g_and_two_3g_pods_get_the_cheapest_valid_layouts(gcp) -> None:
    pods = [mig_pod(f"s{i}", MIG_1G, tolerations=TOLERATES_GPU) for i in range(14)]
    pods += [mig_pod(f"l{i}", MIG_3G, tolerations=TOLERATES_GPU) for i in range(2)]

    result = run(pods, gcp, A100_80)

    assert not result.unplaced
    gpus = sum(n.offering.instance_type.gpus for n in result.new_nodes)
    assert gpus == 3  # 14 x 1g need two GPUs, 2 x 3g need one: no layout does it on fewer
    for node in result.new_nodes:
        layout = layout_named("A100-80GB", node.labels[MIG_CONFIG_LABEL])
        assert layout is not None and placeable("A100-80GB", dict(layout.per_gpu))
    cheapest_per_gpu = min(
        o.price_usd_per_hour / o.instance_type.gpus
        for o in gcp
        if o.instance_type.gpu_sku == "A100-80GB" and o.capacity_type.value == "on-demand"
    )
    assert result.total_price_usd_per_hour <= round(3 * cheapest_per_gpu, 6) + 1e-6


def test_an_unknown_profile_is_a_clear_reason(gcp) -> None:
    result = run([mig_pod("bad", "nvidia.com/mig-9g.99gb")], gcp, A100_80)

    (unplaced,) = result.unplaced
    assert "nvidia.com/mig-9g.99gb is no MIG profile" in unplaced.reason


def test_a_profile_the_allowed_gpus_cannot_host_is_unplaced_with_a_reason(gcp) -> None:
    only_40gb = config(migPartitioning={"gpuSkus": ["A100-40GB"]})

    result = run([mig_pod("big", MIG_3G)], gcp, only_40gb)  # 3g.40gb exists on the 80 GB part only

    (unplaced,) = result.unplaced
    assert f"no {MIG_3G}" in unplaced.reason


def test_without_mig_partitioning_the_reason_says_how_to_enable_it(gcp) -> None:
    (unplaced,) = run([mig_pod("m", MIG_1G)], gcp).unplaced
    assert "migPartitioning is not set" in unplaced.reason


def test_whole_gpu_pods_never_get_single_strategy_slices(gcp) -> None:
    single = config(migPartitioning={"gpuSkus": ["A100-80GB"], "strategy": "single"})
    a100 = {"node.elotl.co/instance-gpu-skus": "A100-80GB"}
    tolerates = [{"key": "nvidia.com/mig", "operator": "Exists"}]
    slices = [pod(f"slice{i}", "1", "4Gi", gpus=1, annotations=a100, tolerations=tolerates) for i in range(7)]
    wholes = [pod(f"whole{i}", "1", "4Gi", gpus=1, annotations=a100) for i in range(7)]

    sliced = run(slices, gcp, single)
    whole = run(wholes, gcp, single)

    (node,) = sliced.new_nodes  # seven slices of one GPU, exposed as nvidia.com/gpu
    assert MIG_SINGLE_TAINT in node.taints and node.labels[MIG_CONFIG_LABEL] == "all-1g.10gb"
    assert node.allocatable.get(NVIDIA_GPU) == 7
    assert sum(n.offering.instance_type.gpus for n in whole.new_nodes) == 7
    assert all(MIG_CONFIG_LABEL not in n.labels for n in whole.new_nodes)


def test_a_restart_reads_the_layout_back_from_the_node_label() -> None:
    (layout,) = [x for x in layouts("A100-80GB") if x.name == "all-balanced"]
    mode = GpuMode.partitioned(layout, 2, single=False)

    again = GpuMode.recorded(NVIDIA_GPU, 2, mode.node_labels(), sku="A100-80GB", memory_mib_per_device=81920)

    assert again == mode
    assert GpuMode.from_record(mode.as_record()) == mode
    assert dict(mode.extended()) == {"nvidia.com/mig-1g.10gb": 4, "nvidia.com/mig-2g.20gb": 2, MIG_3G: 2}


def test_custom_layouts_are_rendered_for_the_mig_manager_and_default_ones_are_not() -> None:
    custom = layout_named("A100-80GB", "luna-mig-1g.10gbx4-3g.40gbx1")
    (default,) = [x for x in layouts("A100-80GB") if x.name == "all-1g.10gb"]
    assert custom is not None

    rendered = mig_parted_config([custom, default])

    assert rendered == {
        "version": "v1",
        "mig-configs": {
            "luna-mig-1g.10gbx4-3g.40gbx1": [
                {"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": 4, "3g.40gb": 1}}
            ]
        },
    }
    assert layout_named("A100-80GB", "luna-mig-3g.40gbx2-1g.10gbx1") is None  # not placeable
