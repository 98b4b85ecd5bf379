"""The labels GKE itself puts on a node of an offering, as data on the offering (`Offering.node_labels`).

GKE labels every spot node `cloud.google.com/gke-spot=true` and every GPU node
`cloud.google.com/gke-accelerator=<accelerator type>`; pods select on them (GKE's own documentation tells users to),
so the planner must know a node of that offering will carry them. Time-sharing labels depend on the GPU mode a
node is launched in, not on the offering: the provider adds them to the pool's node configuration instead.
"""

from __future__ import annotations

from dataclasses import replace

from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from pricing.gcp.machines import GKE_ACCELERATOR_LABEL, GKE_SPOT_LABEL, gke_accelerator


def with_gke_labels(offering: Offering) -> Offering:
    """The offering with GKE's own node labels among its `node_labels` (and, on an on-demand offering, among the
    `spot_node_labels` of the spot offering the planner may estimate from it)."""
    labels = dict(offering.node_labels)
    accelerator = gke_accelerator(offering.instance_type)
    if accelerator:
        labels[GKE_ACCELERATOR_LABEL] = accelerator
    spot = tuple(sorted({**labels, GKE_SPOT_LABEL: "true"}.items()))
    if offering.capacity_type is CapacityType.SPOT:
        return replace(offering, node_labels=spot)
    return replace(offering, node_labels=tuple(sorted(labels.items())), spot_node_labels=spot)


def with_node_policy(catalog: Catalog) -> Catalog:
    """Every offering of a GCP catalog with GKE's node labels: the per-cloud hook the bundled loader applies
    (pricing.catalog looks for `pricing.<cloud>.offerings.with_node_policy`), and the live catalog too."""
    return replace(catalog, offerings=tuple(with_gke_labels(o) for o in catalog.offerings))
