"""The `aws.*` configuration section, owned by the AWS provider (docs/aws.md lists every key).

It imports no SDK: the core validates every registered section at load time, whichever clouds are installed.
Registered in pyproject.toml under the entry point group `luna_autoscaler.config_sections`.
"""

from __future__ import annotations

from pydantic import Field

from luna_autoscaler.config import ConfigSection, Seconds


class AwsConfig(ConfigSection):
    section_name = "aws"

    region: str = "us-east-1"
    cluster_name: str = Field(default="", alias="clusterName")
    cluster_endpoint: str = Field(default="", alias="clusterEndpoint")
    cluster_ca: str = Field(default="", alias="clusterCA")
    cluster_version: str = Field(default="", alias="clusterVersion")
    service_cidr: str = Field(default="", alias="serviceCIDR")  # nodeadm needs it; "" → from EKS DescribeCluster
    zones: tuple[str, ...] = ()
    subnets: dict[str, str] = Field(default_factory=dict)  # zone → subnet id
    subnet_tag: str = Field(default="", alias="subnetSelectorTag")  # discover subnets tagged with this key
    security_groups: tuple[str, ...] = Field(default=(), alias="securityGroups")
    instance_profile: str = Field(default="", alias="instanceProfile")
    ami_family: str = Field(default="al2023", alias="amiFamily")
    ami_id: str = Field(default="", alias="amiId")
    root_volume_gib: int = Field(default=100, ge=8, alias="rootVolumeSize")
    root_volume_type: str = Field(default="gp3", alias="rootVolumeType")
    interruption_queue: str = Field(default="", alias="interruptionQueue")
    max_spot_interrupt_bucket: int | None = Field(default=None, ge=0, le=4, alias="maxSpotInterruptBucket")
    max_spot_price_ratio: float | None = Field(default=None, gt=0, le=1, alias="maxSpotPriceRatio")
    pricing_refresh_seconds: Seconds = Field(default=3600.0, alias="pricingRefreshInterval")

    @property
    def node_boot_disk_gib(self) -> int:
        """The boot disk a node of this cloud gets, for its ephemeral-storage allocatable."""
        return self.root_volume_gib
