"""Node overhead as catalog data: every instance type of a catalog gets the capacity and allocatable its cloud's
managed Kubernetes gives a node of it (`InstanceType.node`), so the planner never names a cloud.

Applied once, where a catalog is made: the bundled loader (with each cloud's default boot disk) and, for a boot
disk configured otherwise (`aws.rootVolumeSize`, `gcp.diskSizeGb`, `azure.osDiskSizeGb`), the provider's
configuration section (`ConfigSection.catalog_policy`). The rules are in `pricing/<cloud>/overhead.py`.
"""

from __future__ import annotations

from dataclasses import replace

from luna_autoscaler.models.catalog import Catalog, InstanceType
from pricing.aws import overhead as aws
from pricing.azure import overhead as azure
from pricing.gcp import overhead as gcp
from pricing.kubelet import ReservationRule, node_resources
from pricing.oci import overhead as oci

RULES: dict[str, ReservationRule] = {"aws": aws.RULE, "gcp": gcp.RULE, "azure": azure.RULE, "oci": oci.RULE}


def with_node(it: InstanceType, boot_disk_gib: int | None = None) -> InstanceType:
    """`it` with the capacity and allocatable of its cloud's nodes (`boot_disk_gib` None: the cloud's default)."""
    rule = RULES.get(it.cloud)
    if rule is None:
        return it
    return replace(it, node=node_resources(it, rule, boot_disk_gib))


def with_nodes(catalog: Catalog, boot_disk_gib: int | None = None) -> Catalog:
    """The catalog with its cloud's node capacity and allocatable on every type, their ephemeral storage on a boot
    disk of this size (None: the cloud's default); the same object if it already has them."""
    types = {name: with_node(it, boot_disk_gib) for name, it in catalog.instance_types.items()}
    if all(types[name].node == it.node for name, it in catalog.instance_types.items()):
        return catalog
    offerings = tuple(replace(o, instance_type=types.get(o.name, o.instance_type)) for o in catalog.offerings)
    return Catalog(catalog.cloud, catalog.region, offerings, catalog.provenance, types)
