"""The snapshot builder on miniature copies of the source files, faults included, read back by the loader."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models.catalog import CapacityType, Catalog
from pricing.aws import snapshot as aws
from pricing.azure import snapshot as azure
from pricing.build_snapshot import main, write_snapshot
from pricing.catalog import BundledCatalogSource
from pricing.gcp import snapshot as gcp
from pricing.oci import snapshot as oci
from pricing.snapshot_build import BuildError, CloudBuild

GPU_INFO_T4 = "\"{'Gpus': [{'MemoryInfo': {'SizeInMiB': 16384}}]}\""
GPU_INFO_A100 = "\"{'Gpus': [{'MemoryInfo': {'SizeInMiB': 40960}}]}\""
GPU_INFO_B200 = "\"{'Gpus': [{'MemoryInfo': {'SizeInMiB': 184320}}]}\""

SOURCES = {
    "aws_all_types_us-east-1_2026-07-20.csv": """\
instance_type,vcpus,memory_mib,arch,gpu_name,gpu_manufacturer,gpu_count,gpu_memory_mib_total,max_pods_enis,current_generation,price_ondemand_usd_per_hour
m5.large,2,8192,x86_64,,,,,3,False,0.096
m7g.large,2,8192,arm64,,,,,3,True,0.0816
g6f.large,2,8192,x86_64,L4,NVIDIA,0,2861,2,True,0.202
""",
    "aws_gpu_vms_2025-11-30.csv": """\
InstanceType,AcceleratorName,AcceleratorKind,AcceleratorCount,GpuMemoryGiBTotal,vCPUs,MemoryGiB,Arch,Region,Price,SpotPrice,SpotMin,SpotMax,PctInterrupt,PctSavingsOD
g6f.large,L4,gpu,0.125,3,2,8.0,x86_64,us-east-1,0.202,0.052725,0.0484,0.0589,5-10%,75.0
g5.xlarge,A10G,gpu,1.0,24,4,16.0,x86_64,eu-west-1,1.123,1.2,1.1,1.3,>20%,0
g5.xlarge,A10G,gpu,1.0,24,4,16.0,x86_64,us-east-1-atl-1,1.2,,,,,
g4ad.xlarge,AMD Radeon Pro V520,gpu,1.0,8,4,16.0,x86_64,us-east-1,0.37853,0.104475,0.1,0.1,<5%,68.0
""",
    "aws_accelerator_specs.csv": """\
InstanceType,Kind,Name,Manufacturer,Count,MemoryMiBPerDevice,TotalAccelMemoryMiB,vCPUs,MemoryMiB,Arch,SpotSupported,LogicalGpuCount,GpuPartitionSize
g5.xlarge,gpu,A10G,NVIDIA,1,22888,22888,4,16384,x86_64,True,1.0,1.0
g6f.large,gpu,L4,NVIDIA,0,2861,2861,2,8192,x86_64,True,1.0,0.125
""",
    "aws_accelerator_zone_offerings.csv": """\
InstanceType,Region,AvailabilityZone
g5.xlarge,eu-west-1,eu-west-1b
g5.xlarge,eu-west-1,eu-west-1a
""",
    "gcp_vms_all.csv": f"""\
InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice
n1-standard-4,4.0,15.0,,,,us-central1,us-central1-a,0.19,0.06977
n1-standard-16,16.0,60.0,,,,us-central1,us-central1-a,0.76,0.28
a2-highgpu-1g,12.0,85.0,,,,us-central1,us-central1-a,0.73948,0.36975
a4-highgpu-8g,224.0,3968.0,,,,us-central1,us-central1-b,0.0,0.0
,,,T4,1.0,{GPU_INFO_T4},us-central1,us-central1-a,0.35,0.1654
,,,tpu-v5litepod-1,1.0,,us-central1,us-central1-a,1.2,0.6
""",
    "gcp_gpu_vms_derived.csv": f"""\
InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,Region,AvailabilityZone,HostPrice,HostSpotPrice,AccPrice,AccSpotPrice,GpuInfo,Price,SpotPrice
a2-highgpu-1g,12.0,85.0,A100,1.0,us-central1,us-central1-a,0.73948,0.36975,2.93391,1.4341,{GPU_INFO_A100},3.67339,1.80385
a4-highgpu-8g,224.0,3968.0,B200,8.0,us-central1,us-central1-b,0.0,0.0,90.216,34.2368,{GPU_INFO_B200},90.216,34.2368
""",
    "azure_vms_all.csv": """\
InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,Generation
Standard_D4s_v5,,,4,16,,0.192,0.0384,eastus,V1,V2
Standard_NV6ads_A10_v5,A10,0.167,6,55,A10,0.454,0.083899,eastus,V1,V2
Standard_NV4as_v4,MI25,1,4,14,MI25,0.233,0.043058,eastus,V1
Standard_ND96isr_H200_v5,H200,8,96,1850,H200,110.24,110.24,eastus,V2
""",
    "azure_gpu_vms.csv": """\
InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,Generation
Standard_NV6ads_A10_v5,A10,0.167,6,55,A10,0.454,0.083899,eastus,V1;V2
Standard_NV4as_v4,MI25,1,4,14,MI25,0.233,0.043058,eastus,V1
Standard_ND96isr_H200_v5,H200,8,96,1850,H200,110.24,110.24,eastus,V2
""",
    "oci_gpu_vms.csv": """\
InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone
VM.GPU3.1,V100,1,12,90,"{'Gpus': [{'Name': 'V100', 'Manufacturer': 'NVIDIA', 'Count': 1, 'MemoryInfo': {'SizeInMiB': 16384}}]}",2.95,1.475,us-sanjose-1,US-SANJOSE-1-AD-1
""",
}


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    directory = tmp_path / "catalog"
    directory.mkdir()
    for name, text in SOURCES.items():
        (directory / name).write_text(text)
    return directory


def build_all(sources: Path) -> list[CloudBuild]:
    return [
        aws.build(sources, aws.moto_resources(None)),
        gcp.build(sources),
        azure.build(sources),
        oci.build(sources),
    ]


@pytest.fixture
def snapshot(sources: Path, tmp_path: Path) -> tuple[list[CloudBuild], BundledCatalogSource, Path]:
    builds = build_all(sources)
    out = tmp_path / "data"
    write_snapshot(builds, out)
    return builds, BundledCatalogSource(data_dir=out, cache_dir=None), out


def offering_prices(catalog: Catalog, name: str) -> dict[tuple[str, CapacityType], float]:
    return {(o.zone, o.capacity_type): o.price_usd_per_hour for o in catalog if o.name == name}


def notes(builds: list[CloudBuild], cloud: str) -> str:
    return "\n".join(next(b for b in builds if b.cloud == cloud).notes)


def test_aws_types_get_zones_fractions_and_pods(snapshot: tuple[list[CloudBuild], BundledCatalogSource, Path]) -> None:
    builds, source, _ = snapshot
    home = source.catalog("aws", "us-east-1")
    g6f = home.instance_types["g6f.large"]
    assert g6f.accelerator is not None and (g6f.accelerator.count, g6f.accelerator.share_milli) == (1, 125)
    assert g6f.max_pods == 20  # 2 ENIs x (10 - 1) + 2, from moto's network data
    spot = home.find(OfferingRef("g6f.large", "us-east-1a", "spot"))
    assert spot is not None and (spot.price_usd_per_hour, spot.interruption_band) == (0.052725, "5-10%")
    assert home.find(OfferingRef("m5.large", "us-east-1a", "spot")) is None

    eu = source.catalog("aws", "eu-west-1")
    assert offering_prices(eu, "g5.xlarge") == {
        ("eu-west-1a", CapacityType.ON_DEMAND): 1.123,
        ("eu-west-1a", CapacityType.SPOT): 1.2,  # above on-demand: kept as observed
        ("eu-west-1b", CapacityType.ON_DEMAND): 1.123,
        ("eu-west-1b", CapacityType.SPOT): 1.2,
    }
    assert source.regions("aws") == ("eu-west-1", "us-east-1")
    assert "g4ad.xlarge" not in home.instance_types
    text = notes(builds, "aws")
    assert "2 GPU type x region rows without zone data dropped: 1 in Local/Wavelength" in text
    assert "1 of types moto 5.2.5 does not list" in text and "without zones: g4ad" in text
    assert "2 zone prices with spot above on-demand kept as observed" in text


def test_gcp_prices_gpu_machines_with_their_gpus_and_drops_a_zero_host_price(
    snapshot: tuple[list[CloudBuild], BundledCatalogSource, Path],
) -> None:
    builds, source, _ = snapshot
    gcp = source.catalog("gcp", "us-central1")

    assert offering_prices(gcp, "a2-highgpu-1g")[("us-central1-a", CapacityType.ON_DEMAND)] == 3.67339
    assert "a4-highgpu-8g" not in gcp.instance_types
    assert offering_prices(gcp, "n1-standard-4_t4x1") == {
        ("us-central1-a", CapacityType.ON_DEMAND): pytest.approx(0.54),
        ("us-central1-a", CapacityType.SPOT): pytest.approx(0.23517),
    }
    assert "n1-standard-16_t4x1" in gcp.instance_types
    assert "a4-highgpu-8g: host price 0.0 in 1 zones" in notes(builds, "gcp")
    assert "skipped 1 TPU slice price rows" in notes(builds, "gcp")


def test_azure_split_rows_partitions_and_copied_spot(
    snapshot: tuple[list[CloudBuild], BundledCatalogSource, Path],
) -> None:
    builds, source, _ = snapshot
    azure = source.catalog("azure", "eastus")

    assert offering_prices(azure, "Standard_D4s_v5") == {
        ("eastus", CapacityType.ON_DEMAND): 0.192,
        ("eastus", CapacityType.SPOT): 0.0384,
    }
    nv4 = azure.instance_types["Standard_NV4as_v4"].accelerator
    assert nv4 is not None and nv4.share_milli == 125
    assert offering_prices(azure, "Standard_ND96isr_H200_v5") == {("eastus", CapacityType.ON_DEMAND): 110.24}
    text = notes(builds, "azure")
    assert "2 rows with an unquoted 'V1,V2' last column rejoined" in text
    assert "Standard_ND96isr_H200_v5: spot equal to on-demand in 1 regions" in text


def test_data_files_keep_each_sources_provenance_line(
    snapshot: tuple[list[CloudBuild], BundledCatalogSource, Path],
) -> None:
    _, _, out = snapshot
    text = gzip.decompress((out / "aws-prices.csv.gz").read_bytes()).decode()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert any(line.startswith("# source aws-gpu (as of 2025-11-30): aws_gpu_vms_2025-11-30.csv") for line in comments)
    assert any(line.startswith("# source aws-ondemand (as of 2026-07-20)") for line in comments)
    assert any(line.startswith("# handled: ") for line in comments)


def test_builds_are_reproducible_and_versioned_by_content(sources: Path, tmp_path: Path) -> None:
    first = write_snapshot(build_all(sources), tmp_path / "a")
    second = write_snapshot(build_all(sources), tmp_path / "b")
    assert first.version == second.version
    for a in sorted((tmp_path / "a").iterdir()):
        assert a.read_bytes() == (tmp_path / "b" / a.name).read_bytes(), a.name

    oci = sources / "oci_gpu_vms.csv"
    oci.write_text(oci.read_text().replace(",2.95,", ",3.10,"))
    assert write_snapshot(build_all(sources), tmp_path / "c").version != first.version


def test_a_malformed_azure_row_is_reported_with_its_line(sources: Path) -> None:
    path = sources / "azure_vms_all.csv"
    path.write_text(path.read_text() + "Standard_X1,,,1\n")

    with pytest.raises(BuildError, match=r"azure_vms_all.csv:6: 4 fields"):
        azure.build(sources)


def test_the_command_fails_cleanly_on_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 1
    assert "build_snapshot:" in capsys.readouterr().err
