"""The bundled catalog's Azure offerings as AKS will run them: `with_node_policy` is the hook `pricing.catalog`
calls for every cloud that has one (`pricing.<cloud>.offerings`), here AKS's spot taint and label."""

from __future__ import annotations

from luna_autoscaler.models.catalog import Catalog
from pricing.azure import offering_policy


def with_node_policy(catalog: Catalog) -> Catalog:
    offerings = tuple(offering_policy(o) for o in catalog.offerings)
    return Catalog(catalog.cloud, catalog.region, offerings, catalog.provenance, catalog.instance_types)
