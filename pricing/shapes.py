"""How each cloud's raw instance data becomes one `InstanceType` vocabulary: family, architecture, max pods, devices.

The clouds describe machines differently (AWS counts ENIs, Azure encodes features in size names, AWS and Azure sell
slices of a GPU as "0.125 GPUs"). The bundled snapshot builder applies these rules once, at build time, and a live
price source must apply the same ones to what it fetches, so a type looks the same whichever way it reached the
catalog. docs/catalog.md states each rule with its sources and edge cases.
"""

from __future__ import annotations

import re

from luna_autoscaler.models.catalog import Accelerator, Arch
from luna_autoscaler.models.gpu_sku import canonical_sku
from luna_autoscaler.models.resources import AMD_GPU, NEURON_PREFIX, NVIDIA_GPU

CLOUDS = ("aws", "gcp", "azure", "oci")

# The Qualcomm Cloud AI 100 device plugin advertises one `qualcomm.com/qaic` per SoC.
QUALCOMM_QAIC = "qualcomm.com/qaic"

# Pods per node where the node's network does not dictate it: GKE Standard's default maximum (110), the Azure CNI
# Overlay default of AKS (250), OKE's flannel overlay default (110, the kubelet default). EKS: per type, eks_max_pods.
DEFAULT_MAX_PODS = {"gcp": 110, "azure": 250, "oci": 110}

# EKS's max-pods calculator caps the ENI figure: 110 below 30 vCPUs, 250 from 30 up.
EKS_SMALL_NODE_VCPUS = 30
EKS_MAX_PODS_SMALL = 110
EKS_MAX_PODS_LARGE = 250

_NEURON_SKUS = frozenset({"INFERENTIA", "INFERENTIA2", "TRAINIUM", "TRAINIUM2"})
_AMD_SKUS = frozenset({"MI25", "MI300X", "MI355X", "RADEON-PRO-V520"})
# NVIDIA Grace superchips: the host CPU is Arm (Neoverse V2), whatever the cloud's size name says.
_GRACE_SKUS = frozenset({"GB200", "GB300"})
# GCE machine families on Arm: Ampere Altra (t2a) and Google Axion (c4a, n4a); a4x hosts are Grace.
_GCP_ARM_FAMILIES = frozenset({"t2a", "c4a", "n4a", "a4x"})

# Standard_NC4as_T4_v3 → letters "NC", vCPUs "4", features "as", then "_"-separated accelerator tokens and version.
_AZURE_SIZE = re.compile(
    r"^(?:Standard|Basic)_(?P<letters>[A-Z]+)(?P<vcpus>\d+)(?:-\d+)?(?P<features>[a-z]*)(?P<rest>(?:_[A-Za-z0-9]+)*)$"
)
_VERSION = re.compile(r"^[vV]\d+$")
_OCI_FLEX_SIZE = re.compile(r"^(.+\.Flex)\.\d+o\.\d+g$")


def instance_family(cloud: str, name: str) -> str:
    """The cloud's own family name for an instance type (what family inclusion/exclusion annotations match)."""
    if cloud == "aws":
        return name.split(".", 1)[0]
    if cloud == "gcp":
        return name.split("-", 1)[0]
    if cloud == "azure":
        return azure_family(name)
    if cloud == "oci":
        flexible = _OCI_FLEX_SIZE.match(name)  # VM.Standard.E4.Flex.4o.64g: a size of VM.Standard.E4.Flex
        if flexible:
            return flexible[1]
        head, _, count = name.rpartition(".")
        return head if head and count.isdigit() else name
    raise ValueError(f"unknown cloud {cloud!r}")


def azure_family(size: str) -> str:
    """Azure's series name of a VM size: `Standard_D4s_v5` → `Dsv5`, `Standard_NC4as_T4_v3` → `NCasT4_v3`.

    Drop `Standard_` and the vCPU count (and a constrained-vCPU suffix `-2`); keep the family letters, the feature
    letters, the accelerator tokens and the version: with an accelerator token the version keeps its underscore
    (`NVadsA10_v5`), without one it is appended (`Dsv5`). Azure names the older GPU series without their feature
    letters (`NCv3` for Standard_NC6s_v3, `NDv2`, `NVv3`, `NVv4`), so N-series sizes without an accelerator token drop
    them too. Numeric tokens (the memory tier of M-series v3: Standard_M176ds_3_v3 → `Mdsv3`) are dropped. A name
    that does not follow the pattern is its own family.
    """
    m = _AZURE_SIZE.match(size)
    if not m:
        return size.removeprefix("Standard_")
    tokens = [t for t in m["rest"].split("_") if t and not t.isdigit()]
    version = tokens.pop() if tokens and _VERSION.match(tokens[-1]) else ""
    letters, features = m["letters"], m["features"]
    if tokens:
        return f"{letters}{features}{''.join(tokens)}" + (f"_{version}" if version else "")
    if letters.startswith("N"):
        features = ""
    return f"{letters}{features}{version}"


def _azure_features(size: str) -> str:
    m = _AZURE_SIZE.match(size)
    return m["features"] if m else ""


def architecture(cloud: str, name: str, *, reported: str = "", accelerator: Accelerator | None = None) -> Arch:
    """CPU architecture of a type: what the source reports where it does (AWS), otherwise the cloud's naming rules."""
    if accelerator is not None and accelerator.sku in _GRACE_SKUS:
        return Arch.ARM64
    if cloud == "aws":
        return Arch.ARM64 if reported.strip().lower() == "arm64" else Arch.AMD64
    if cloud == "gcp":
        return Arch.ARM64 if instance_family("gcp", name) in _GCP_ARM_FAMILIES else Arch.AMD64
    if cloud == "azure":
        # Azure's additive feature letter `p` marks Arm (Ampere Altra, Cobalt) sizes: D4ps_v5, B2pls_v2.
        return Arch.ARM64 if "p" in _azure_features(name) else Arch.AMD64
    if cloud == "oci":
        # Ampere shapes are the Standard A-series (VM.Standard.A1.Flex, BM.Standard.A1.160).
        return Arch.ARM64 if re.match(r"^(VM|BM)\.Standard\.A\d+\.", name) else Arch.AMD64
    raise ValueError(f"unknown cloud {cloud!r}")


def eks_max_pods(enis: int, ipv4_per_eni: int, vcpus: int) -> int:
    """Pods an EKS node of this type can run with the VPC CNI: ENIs × (IPv4 per ENI − 1) + 2, capped as EKS advises.

    The first address of each ENI is the node's own; +2 for the host-network pods (aws-node, kube-proxy)
    (amazon-eks-ami eni-max-pods.txt). The cap is the max-pods calculator's recommendation: 110 below 30 vCPUs,
    250 from 30 (EKS user guide, "Amazon EKS recommended maximum Pods for each Amazon EC2 instance type").
    """
    cap = EKS_MAX_PODS_SMALL if vcpus < EKS_SMALL_NODE_VCPUS else EKS_MAX_PODS_LARGE
    return min(enis * (ipv4_per_eni - 1) + 2, cap)


def accelerator(name: str, devices: float, memory_mib_per_device: int = 0) -> Accelerator:
    """The devices of a type as the device plugin exposes them, from a catalog's name and (fractional) count.

    A count below one is a slice of one physical device (AWS g6f.large: 0.125 of an L4; Azure NV6ads_A10_v5: 1/6 of
    an A10): one schedulable device with `share_milli` = the slice in thousandths, never a whole GPU.
    """
    if devices <= 0:
        raise ValueError(f"{name}: accelerator count must be positive, got {devices}")
    if devices < 1:
        count, share_milli = 1, round(devices * 1000)
    elif devices == int(devices):
        count, share_milli = int(devices), 1000
    else:
        raise ValueError(f"{name}: {devices} devices is neither whole nor a slice of one device")
    sku = canonical_sku(name, memory_mib_per_device)
    if sku in _NEURON_SKUS:
        kind, resource, maker = "neuron", NEURON_PREFIX, "AWS"
    elif sku == "QUALCOMM-AI100":
        kind, resource, maker = "inference", QUALCOMM_QAIC, "Qualcomm"
    elif sku in _AMD_SKUS:
        kind, resource, maker = "gpu", AMD_GPU, "AMD"
    else:
        kind, resource, maker = "gpu", NVIDIA_GPU, "NVIDIA"
    return Accelerator(
        sku=sku,
        count=count,
        resource_name=resource,
        kind=kind,
        share_milli=share_milli,
        memory_mib_per_device=memory_mib_per_device,
        manufacturer=maker,
    )
