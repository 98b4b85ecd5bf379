"""The per-cloud naming and sizing rules, including the edge cases docs/catalog.md lists."""

from __future__ import annotations

import pytest

from luna_autoscaler.models.catalog import Arch
from luna_autoscaler.models.resources import AMD_GPU, NEURON_PREFIX, NVIDIA_GPU
from pricing.shapes import QUALCOMM_QAIC, accelerator, architecture, azure_family, eks_max_pods, instance_family


@pytest.mark.parametrize(
    ("size", "family"),
    [
        ("Standard_D4s_v5", "Dsv5"),
        ("Standard_D2as_v5", "Dasv5"),
        ("Standard_E4-2s_v5", "Esv5"),  # constrained vCPUs
        ("Standard_DS2_v2", "DSv2"),
        ("Standard_A1_v2", "Av2"),
        ("Standard_D2", "D"),
        ("Standard_B1ls", "Bls"),
        ("Standard_M176ds_3_v3", "Mdsv3"),  # memory tier token dropped
        ("Standard_NC6s_v3", "NCv3"),
        ("Standard_NC24rs_v3", "NCv3"),
        ("Standard_ND40rs_v2", "NDv2"),
        ("Standard_NV12s_v3", "NVv3"),
        ("Standard_NV4as_v4", "NVv4"),
        ("Standard_NC4as_T4_v3", "NCasT4_v3"),
        ("Standard_NV6ads_A10_v5", "NVadsA10_v5"),
        ("Standard_NC24ads_A100_v4", "NCadsA100_v4"),
        ("Standard_ND96isr_H100_v5", "NDisrH100_v5"),
        ("Standard_ND128isr_NDR_GB200_v6", "NDisrNDRGB200_v6"),
        ("Odd_Name", "Odd_Name"),
    ],
)
def test_azure_family(size: str, family: str) -> None:
    assert azure_family(size) == family


@pytest.mark.parametrize(
    ("cloud", "name", "family"),
    [
        ("aws", "p6-b200.48xlarge", "p6-b200"),
        ("gcp", "a3-megagpu-8g", "a3"),
        ("oci", "VM.GPU.A10.1", "VM.GPU.A10"),
        ("oci", "BM.GPU.A100-v2.8", "BM.GPU.A100-v2"),
        ("oci", "VM.Standard.E4.Flex", "VM.Standard.E4.Flex"),
    ],
)
def test_instance_family(cloud: str, name: str, family: str) -> None:
    assert instance_family(cloud, name) == family


def test_an_unknown_cloud_has_no_rules() -> None:
    with pytest.raises(ValueError, match="unknown cloud"):
        instance_family("ibm", "bx2-2x8")
    with pytest.raises(ValueError, match="unknown cloud"):
        architecture("ibm", "bx2-2x8")


@pytest.mark.parametrize(
    ("enis", "ips", "vcpus", "pods"),
    [(3, 10, 2, 29), (2, 2, 2, 4), (8, 30, 16, 110), (8, 30, 32, 234), (15, 50, 96, 250), (4, 15, 29, 58)],
)
def test_eks_max_pods_is_the_eni_formula_capped_by_size(enis: int, ips: int, vcpus: int, pods: int) -> None:
    assert eks_max_pods(enis, ips, vcpus) == pods


@pytest.mark.parametrize(
    ("cloud", "name", "reported", "arch"),
    [
        ("aws", "m7g.large", "arm64", Arch.ARM64),
        ("aws", "c1.medium", "i386;x86_64", Arch.AMD64),
        ("gcp", "c4a-standard-4", "", Arch.ARM64),
        ("azure", "Standard_B2pls_v2", "", Arch.ARM64),
        ("azure", "Standard_E2s_v5", "", Arch.AMD64),
        ("oci", "VM.Standard.A1.Flex", "", Arch.ARM64),
        ("oci", "VM.GPU.A10.1", "", Arch.AMD64),
    ],
)
def test_architecture_rules(cloud: str, name: str, reported: str, arch: Arch) -> None:
    assert architecture(cloud, name, reported=reported) == arch


def test_grace_superchips_are_arm_whatever_the_name() -> None:
    assert architecture("azure", "Standard_ND128isr_NDR_GB200_v6", accelerator=accelerator("GB200", 4)) == Arch.ARM64


@pytest.mark.parametrize(
    ("name", "devices", "memory", "expected"),
    [
        ("A10G", 4, 22888, ("A10G", 4, 1000, "gpu", NVIDIA_GPU, "NVIDIA")),
        ("L4", 0.125, 2861, ("L4", 1, 125, "gpu", NVIDIA_GPU, "NVIDIA")),
        ("A10", 0.167, 0, ("A10", 1, 167, "gpu", NVIDIA_GPU, "NVIDIA")),
        ("A100", 8, 81920, ("A100-80GB", 8, 1000, "gpu", NVIDIA_GPU, "NVIDIA")),
        ("AWS Inferentia2", 1, 32768, ("INFERENTIA2", 1, 1000, "neuron", NEURON_PREFIX, "AWS")),
        ("Trainium", 16, 32768, ("TRAINIUM", 16, 1000, "neuron", NEURON_PREFIX, "AWS")),
        ("Qualcomm AI 100 Accelerators", 8, 16000, ("QUALCOMM-AI100", 8, 1000, "inference", QUALCOMM_QAIC, "Qualcomm")),
        ("MI300X", 8, 196608, ("MI300X", 8, 1000, "gpu", AMD_GPU, "AMD")),
    ],
)
def test_accelerator(name: str, devices: float, memory: int, expected: tuple[object, ...]) -> None:
    a = accelerator(name, devices, memory)
    assert (a.sku, a.count, a.share_milli, a.kind, a.resource_name, a.manufacturer) == expected


@pytest.mark.parametrize("devices", [0, -1, 1.5])
def test_accelerator_counts_must_be_whole_or_a_slice(devices: float) -> None:
    with pytest.raises(ValueError, match="T4"):
        accelerator("T4", devices)
