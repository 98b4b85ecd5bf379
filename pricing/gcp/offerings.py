"""The labels GKE itself puts on a node of an offering, as data on the offering and its instance type.

GKE labels every spot node `cloud.google.com/gke-spot=true` and every GPU node
`cloud.google.com/gke-accelerator=<accelerator type>` (`Offering.node_labels`); a node whose GPUs GKE time-shares
also `cloud.google.com/gke-gpu-sharing-strategy=time-sharing` and `cloud.google.com/gke-max-shared-clients-per-gpu=
<replicas>`, which depend on the GPU mode it is launched in (`Offering.time_sharing`). Pods select on all of them
(GKE's own documentation tells users to), so the planner, the launch's node configuration and the simulated
kubelet all take them from here. A node of an N1 type with attached GPUs registers with its machine type
(`n1-standard-4`, not the catalog's `n1-standard-4_t4x1`): `InstanceType.registered_as` says so, and the loop
knows the node's catalog type by it.
"""

from __future__ import annotations

from dataclasses import replace

from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import CapacityType, Catalog, InstanceType, Offering
from luna_autoscaler.models.gpu_mode import CloudTimeSharing
from pricing.gcp.machines import (
    GKE_ACCELERATOR_LABEL,
    GKE_MAX_SHARED_CLIENTS_LABEL,
    GKE_SHARING_STRATEGY_LABEL,
    GKE_SPOT_LABEL,
    gke_accelerator,
    machine_spec,
)

GKE_TIME_SHARING = CloudTimeSharing(
    labels=((GKE_SHARING_STRATEGY_LABEL, "time-sharing"),), replicas_label=GKE_MAX_SHARED_CLIENTS_LABEL
)


def registered_as(it: InstanceType) -> tuple[tuple[str, str], ...]:
    """How a GKE node of `it` is told apart when its machine type is not the catalog's name (N1 with attached
    GPUs: the machine type, the accelerator, and the GPU count our nodes are labelled with)."""
    spec = machine_spec(it)
    if spec.machine_type == it.name or not spec.accelerator_type:
        return ()
    return (
        (lbl.INSTANCE_TYPE, spec.machine_type),
        (GKE_ACCELERATOR_LABEL, spec.accelerator_type),
        (lbl.GPU_COUNT, str(spec.accelerator_count)),
    )


def with_gke_labels(offering: Offering, it: InstanceType) -> Offering:
    """The offering, of `it` (its instance type with `registered_as`), with GKE's own node labels among its
    `node_labels` (and, on an on-demand offering, among the `spot_node_labels` of the spot offering the planner
    may estimate from it), and GKE's time-sharing labels on a GPU offering."""
    labels = dict(offering.node_labels)
    accelerator = gke_accelerator(it)
    if accelerator:
        labels[GKE_ACCELERATOR_LABEL] = accelerator
    sharing = GKE_TIME_SHARING if accelerator else None
    spot = tuple(sorted({**labels, GKE_SPOT_LABEL: "true"}.items()))
    if offering.capacity_type is CapacityType.SPOT:
        return replace(offering, instance_type=it, node_labels=spot, time_sharing=sharing)
    return replace(
        offering,
        instance_type=it,
        node_labels=tuple(sorted(labels.items())),
        spot_node_labels=spot,
        time_sharing=sharing,
    )


def with_node_policy(catalog: Catalog) -> Catalog:
    """Every offering of a GCP catalog with GKE's node labels: the per-cloud hook the bundled loader applies
    (pricing.catalog looks for `pricing.<cloud>.offerings.with_node_policy`), and the live catalog too."""
    known = {o.instance_type.name: o.instance_type for o in catalog.offerings} | dict(catalog.instance_types)
    types = {name: replace(it, registered_as=registered_as(it)) for name, it in known.items()}
    offerings = tuple(with_gke_labels(o, types[o.instance_type.name]) for o in catalog.offerings)
    return replace(catalog, offerings=offerings, instance_types=types)  # a dict: the catalog is pickled
