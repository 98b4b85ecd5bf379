"""The OCI test world: a recording server on 127.0.0.1 and the real oci SDK clients pointed at it.

The clients are built as testing.md says: a config dict with a freshly generated RSA key (`key_content`), fake
user and tenancy OCIDs, a fingerprint and `service_endpoint`, so every request carries a real rsa-sha256
signature the server could check.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from luna_autoscaler.config import Config
from providers.oci.clients import OciClients
from tests.oci.recording_server import REGION, RecordingOciServer

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaatestcompartment"
SUBNET = "ocid1.subnet.oc1.sjc.aaaaaaaatestsubnet"
IMAGE = "ocid1.image.oc1.sjc.aaaaaaaaokenodeimage"
GPU_IMAGE = "ocid1.image.oc1.sjc.aaaaaaaaokegpuimage"
CLUSTER_OCID = "ocid1.cluster.oc1.sjc.aaaaaaaatestcluster"


def sdk_config() -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    return {
        "user": "ocid1.user.oc1..aaaaaaaatestuser",
        "tenancy": "ocid1.tenancy.oc1..aaaaaaaatesttenancy",
        "fingerprint": "11:22:33:44:55:66:77:88:99:00:aa:bb:cc:dd:ee:ff",
        "key_content": pem,
        "region": REGION,
    }


def clients(server: RecordingOciServer) -> OciClients:
    return OciClients.build(sdk_config(), service_endpoint=server.url)


def section(server: RecordingOciServer, **overrides: Any) -> dict[str, Any]:
    """The `oci` section of a configuration for this world (camelCase keys, as a ConfigMap holds them)."""
    return {
        "region": REGION,
        "compartmentId": COMPARTMENT,
        "clusterId": CLUSTER_OCID,
        "subnetId": SUBNET,
        "imageId": IMAGE,
        "gpuImageId": GPU_IMAGE,
        "clusterCA": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
        "priceListURL": server.price_list_url,
        **overrides,
    }


def config(server: RecordingOciServer, **overrides: Any) -> Config:
    return Config.model_validate({"oci": section(server, **overrides)})
