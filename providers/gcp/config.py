"""The `gcp.*` configuration section, owned by the GKE provider (docs/gcp.md lists every key).

It imports no SDK: the core validates every registered section at load time, whichever clouds are installed.
Registered in pyproject.toml under the entry point group `luna_autoscaler.config_sections`.
"""

from __future__ import annotations

from pydantic import Field

from luna_autoscaler.config import ConfigSection
from luna_autoscaler.models.catalog import Catalog
from pricing.overhead import with_nodes


class GcpConfig(ConfigSection):
    section_name = "gcp"

    project: str = ""
    region: str = "us-central1"
    zones: tuple[str, ...] = ()
    cluster_name: str = Field(default="", alias="clusterName")
    node_pool_prefix: str = Field(default="luna-", alias="nodePoolPrefix")
    disk_size_gib: int = Field(default=100, ge=10, alias="diskSizeGb")
    service_account: str = Field(default="", alias="serviceAccount")

    def catalog_policy(self, catalog: Catalog) -> Catalog:
        """Node storage on the configured boot disk."""
        return with_nodes(catalog, self.disk_size_gib)
