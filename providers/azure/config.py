"""The `azure.*` configuration section, owned by the AKS provider (docs/azure.md lists every key).

It imports no SDK: the core validates every registered section at load time, whichever clouds are installed.
Registered in pyproject.toml under the entry point group `luna_autoscaler.config_sections`.
"""

from __future__ import annotations

from pydantic import Field

from luna_autoscaler.config import ConfigSection
from luna_autoscaler.models.catalog import Catalog
from pricing.overhead import with_nodes


class AzureConfig(ConfigSection):
    section_name = "azure"

    subscription_id: str = Field(default="", alias="subscriptionId")
    resource_group: str = Field(default="", alias="resourceGroup")
    region: str = "eastus"
    cluster_name: str = Field(default="", alias="clusterName")
    zones: tuple[str, ...] = ()
    os_disk_gib: int = Field(default=128, ge=30, alias="osDiskSizeGb")

    def catalog_policy(self, catalog: Catalog) -> Catalog:
        """Node storage on the configured boot disk."""
        return with_nodes(catalog, self.os_disk_gib)
