"""Nodes whose cloud labels them by another name than the catalog's: a GKE node of the catalog's
`n1-standard-4_t4x1` registers as `node.kubernetes.io/instance-type=n1-standard-4` with its accelerator label
(`InstanceType.registered_as`, from pricing.gcp). The loop knows such a node by its catalog type (`Catalog.type_of`)
wherever the type matters: observed allocatable, GPUs against `maxGpus`, the price of a node, the node metrics.
The GPU node also registers before GKE has installed its driver: it stays in flight until GPUs are allocatable."""

from __future__ import annotations

from types import MappingProxyType

from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import Catalog
from luna_autoscaler.models.manifest import node_from_manifest
from luna_autoscaler.models.pod import Node
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.planner.shapes import observed_node_resources
from luna_autoscaler.ports import ClusterSnapshot
from luna_autoscaler.reconcile.view import ClusterView, PriceIndex
from pricing.catalog import load_catalog
from tests.reconcile.world import World

T4X1 = "n1-standard-4_t4x1"
GKE_TYPES = ("n1-standard-4", T4X1, "n1-standard-4_t4x2", "e2-standard-4")


def gke_catalog() -> Catalog:
    full = load_catalog("gcp", "us-central1")
    kept = tuple(o for o in full.offerings if o.name in GKE_TYPES and o.zone in ("us-central1-a", "us-central1-b"))
    return Catalog(full.cloud, full.region, kept, full.provenance)


def gke_node(name: str, *, gpus: str | None = "1", accelerator: str = "nvidia-tesla-t4") -> Node:
    """A node as GKE registers it: its machine type, its accelerator, and (ours) the GPU count label."""
    labels = {
        lbl.INSTANCE_TYPE: "n1-standard-4",
        lbl.ZONE: "us-central1-a",
        lbl.CAPACITY_TYPE: "on-demand",
        lbl.MANAGED_BY: lbl.MANAGED_BY_VALUE,
        "cloud.google.com/gke-accelerator": accelerator,
    }
    if gpus is not None:
        labels[lbl.GPU_COUNT] = gpus
    allocatable = Resources.of(cpu_millis=3920, memory_bytes=12 * 2**30, pods=110)
    return Node(name, MappingProxyType(labels), allocatable=allocatable, capacity=allocatable, ready=True)


def test_a_gke_gpu_node_is_known_by_its_catalog_type_not_its_machine_type() -> None:
    cat = gke_catalog()
    t4, two, cpu = gke_node("t4"), gke_node("two", gpus="2"), gke_node("cpu")
    cpu = Node("cpu", MappingProxyType({k: v for k, v in cpu.labels.items() if "accelerator" not in k}))

    assert [cat.type_of(n.labels) for n in (t4, two, cpu)] == [T4X1, "n1-standard-4_t4x2", "n1-standard-4"]
    assert set(observed_node_resources([t4], cat)) == {T4X1}  # the T4 node's reality is not the CPU type's
    view = ClusterView(ClusterSnapshot((), (t4, cpu)), {}, {}, {}, cat, prices=PriceIndex().of(cat))
    price = next(o.price_usd_per_hour for o in cat if o.name == T4X1 and o.zone == "us-central1-a")
    assert view.price_of(t4) == price and view.gpus_of(t4) == 1
    assert view.gpus_of(cpu) == 0


def test_the_loop_counts_a_gke_node_by_its_catalog_type_and_waits_for_its_driver(make_world) -> None:
    w: World = make_world({"maxGpus": "1"}, catalog=gke_catalog())
    w.add_pod("train-0", cpu="2", memory="8Gi", gpus=1)
    (launched,) = w.cycle().launched
    assert launched.instance_type == T4X1

    w.clock.advance(400)
    (joined,) = w.join(gpus_ready=False)  # GKE installs the driver after the node registers
    node = node_from_manifest(w.server.get("Node", joined))
    assert (
        node.instance_type == "n1-standard-4" and node.labels["cloud.google.com/gke-accelerator"] == "nvidia-tesla-t4"
    )
    report = w.cycle(advance_seconds=5)
    assert report.in_flight == 1 and report.launched == ()  # no GPU allocatable yet: still in flight
    w.report_gpus(joined)
    assert w.schedule() == {"default/train-0": joined}
    assert w.cycle(advance_seconds=5).in_flight == 0

    w.add_pod("train-1", cpu="2", memory="8Gi", gpus=1)
    report = w.cycle(advance_seconds=5)

    assert report.launched == ()  # the registered node's one T4 counts against maxGpus
    assert any("maxGpus" in u.reason for u in report.unplaced)
    sample = w.reconciler.metrics.registry.get_sample_value
    assert sample("luna_nodes", {"instance_type": T4X1, "capacity_type": "on-demand", "state": "ready"}) == 1
