"""Azure prices (the bundled snapshot's Azure part: `snapshot`, run by `pricing.build_snapshot`) and Azure's policy
on its offerings: what AKS itself puts on a node of each offering.

AKS taints every spot node `kubernetes.azure.com/scalesetpriority=spot:NoSchedule` and labels it
`kubernetes.azure.com/scalesetpriority=spot`: a pod lands on an Azure spot node only if it tolerates that taint.
`offering_policy` writes this onto the offerings (`Offering.node_taints` / `node_labels`), for the bundled catalog
(through `pricing.azure.offerings`, the hook pricing.catalog calls) and for live prices (pricing.azure.live_catalog)
alike, so the planner checks tolerations against what the node will really carry. Importing this package needs no
SDK.
"""

from __future__ import annotations

from dataclasses import replace

from luna_autoscaler.models.catalog import CapacityType, Offering
from luna_autoscaler.models.scheduling import Taint

SCALESET_PRIORITY = "kubernetes.azure.com/scalesetpriority"
SPOT_TAINT = Taint(SCALESET_PRIORITY, "spot", "NoSchedule")
SPOT_LABELS = {SCALESET_PRIORITY: "spot"}


def offering_policy(offering: Offering) -> Offering:
    """The offering with the labels and taints AKS puts on its nodes (spot: the scale set priority; on-demand: the
    same, for the spot offering the planner may estimate from it)."""
    labels = tuple(sorted({**dict(offering.node_labels), **SPOT_LABELS}.items()))
    taints = (*(t for t in offering.node_taints if t != SPOT_TAINT), SPOT_TAINT)
    if offering.capacity_type is not CapacityType.SPOT:
        return replace(offering, spot_node_labels=labels, spot_node_taints=taints)
    return replace(offering, node_labels=labels, node_taints=taints)
