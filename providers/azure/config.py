"""The `azure.*` configuration section, owned by the AKS provider (docs/azure.md lists every key).

It imports no SDK: the core validates every registered section at load time, whichever clouds are installed.
Registered in pyproject.toml under the entry point group `luna_autoscaler.config_sections`.
"""

from __future__ import annotations

from pydantic import Field

from luna_autoscaler.config import ConfigSection


class AzureConfig(ConfigSection):
    section_name = "azure"

    subscription_id: str = Field(default="", alias="subscriptionId")
    resource_group: str = Field(default="", alias="resourceGroup")
    region: str = "eastus"
    cluster_name: str = Field(default="", alias="clusterName")
    zones: tuple[str, ...] = ()
    os_disk_gib: int = Field(default=128, ge=30, alias="osDiskSizeGb")

    @property
    def node_boot_disk_gib(self) -> int:
        """The boot disk a node of this cloud gets, for its ephemeral-storage allocatable."""
        return self.os_disk_gib
