"""The `oci.*` configuration section, owned by the OKE provider (docs/oci.md lists every key).

It imports no SDK: the core validates every registered section at load time, whichever clouds are installed.
Registered in pyproject.toml under the entry point group `luna_autoscaler.config_sections`.
"""

from __future__ import annotations

from pydantic import Field

from luna_autoscaler.config import ConfigSection


class OciConfig(ConfigSection):
    section_name = "oci"

    region: str = "us-sanjose-1"  # the bundled OCI catalog lists its shapes in us-sanjose-1 only
    compartment_id: str = Field(default="", alias="compartmentId")
    cluster_id: str = Field(default="", alias="clusterId")
    subnet_id: str = Field(default="", alias="subnetId")
    image_id: str = Field(default="", alias="imageId")
    availability_domains: tuple[str, ...] = Field(default=(), alias="availabilityDomains")
