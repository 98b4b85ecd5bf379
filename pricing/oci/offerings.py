"""The bundled catalog's OCI offerings as OKE will run them: `with_node_policy` is the hook `pricing.catalog` calls
for every cloud that has one (`pricing.<cloud>.offerings`), here OKE's bootstrap taints (pricing.oci.node_policy)."""

from __future__ import annotations

from luna_autoscaler.models.catalog import Catalog
from pricing.oci.node_policy import apply


def with_node_policy(catalog: Catalog) -> Catalog:
    offerings = tuple(apply(o) for o in catalog.offerings)
    return Catalog(catalog.cloud, catalog.region, offerings, catalog.provenance, catalog.instance_types)
