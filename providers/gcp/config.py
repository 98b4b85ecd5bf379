"""The `gcp.*` configuration section, owned by the GKE provider (docs/gcp.md lists every key).

It imports no SDK: the core validates every registered section at load time, whichever clouds are installed.
Registered in pyproject.toml under the entry point group `luna_autoscaler.config_sections`.
"""

from __future__ import annotations

from pydantic import Field

from luna_autoscaler.config import ConfigSection


class GcpConfig(ConfigSection):
    section_name = "gcp"

    project: str = ""
    region: str = "us-central1"
    zones: tuple[str, ...] = ()
    cluster_name: str = Field(default="", alias="clusterName")
    node_pool_prefix: str = Field(default="luna-", alias="nodePoolPrefix")
    disk_size_gib: int = Field(default=100, ge=10, alias="diskSizeGb")
    service_account: str = Field(default="", alias="serviceAccount")

    @property
    def node_boot_disk_gib(self) -> int:
        """The boot disk a node of this cloud gets, for its ephemeral-storage allocatable."""
        return self.disk_size_gib
