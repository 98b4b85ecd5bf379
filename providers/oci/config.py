"""The `oci.*` configuration section, owned by the OKE provider (docs/oci.md lists every key).

It imports no SDK: the core validates every registered section at load time, whichever clouds are installed.
Registered in pyproject.toml under the entry point group `luna_autoscaler.config_sections`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from luna_autoscaler.config import ConfigSection, Seconds

PRICE_LIST_URL = "https://apexapps.oracle.com/pls/apex/cetools/api/v1/products/"


class OciConfig(ConfigSection):
    section_name = "oci"

    region: str = "us-sanjose-1"  # the bundled OCI catalog lists its shapes in us-sanjose-1 only
    compartment_id: str = Field(default="", alias="compartmentId")  # where nodes are launched
    cluster_id: str = Field(default="", alias="clusterId")
    subnet_id: str = Field(default="", alias="subnetId")  # the worker nodes' subnet
    nsg_ids: tuple[str, ...] = Field(default=(), alias="nsgIds")
    pod_subnet_ids: tuple[str, ...] = Field(default=(), alias="podSubnetIds")  # VCN-native pod networking
    pod_nsg_ids: tuple[str, ...] = Field(default=(), alias="podNsgIds")
    max_pods: int = Field(default=110, ge=1, le=1024, alias="maxPods")  # oke-max-pods, with native pod networking
    image_id: str = Field(default="", alias="imageId")  # the OKE node image for x86 CPU shapes
    gpu_image_id: str = Field(default="", alias="gpuImageId")  # for GPU shapes ("" → imageId)
    arm_image_id: str = Field(default="", alias="armImageId")  # for Ampere shapes ("" → imageId)
    availability_domains: tuple[str, ...] = Field(default=(), alias="availabilityDomains")  # "" → all of the region
    fault_domains: tuple[str, ...] = Field(default=(), alias="faultDomains")
    boot_volume_gb: int = Field(default=100, ge=50, alias="bootVolumeSizeInGBs")
    api_server_endpoint: str = Field(default="", alias="apiServerEndpoint")  # "" → the cluster's private endpoint
    cluster_ca: str = Field(default="", alias="clusterCA")  # base64 PEM; "" → the pod's service account CA
    ssh_authorized_keys: str = Field(default="", alias="sshAuthorizedKeys")
    auth: Literal["workload", "instancePrincipal", "apiKey"] = "workload"
    config_file: str = Field(default="~/.oci/config", alias="configFile")  # auth apiKey
    profile: str = "DEFAULT"
    service_endpoint: str = Field(default="", alias="serviceEndpoint")  # override every API endpoint (proxy, tests)
    launch_timeout_seconds: Seconds = Field(default=600.0, alias="launchTimeout")
    price_list_url: str = Field(default=PRICE_LIST_URL, alias="priceListURL")
    pricing_refresh_seconds: Seconds = Field(default=86400.0, alias="pricingRefreshInterval")

    @property
    def node_boot_disk_gib(self) -> int:
        """The boot disk a node of this cloud gets, for its ephemeral-storage allocatable."""
        return self.boot_volume_gb
