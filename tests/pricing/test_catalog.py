"""The bundled catalog of each cloud, as `plan` and the daemon load it: real rows, real prices, one vocabulary."""

from __future__ import annotations

import pickle
from datetime import date
from pathlib import Path

import pytest

from luna_autoscaler.errors import CatalogError, OfferingRef
from luna_autoscaler.models.catalog import Arch, CapacityType, Catalog, InstanceType, Offering
from luna_autoscaler.models.gpu_sku import known_skus, requested_skus
from luna_autoscaler.models.resources import AMD_GPU, NEURON_PREFIX, NVIDIA_GPU
from pricing.catalog import BundledCatalogSource, default_region, load_catalog, regions, snapshot_version
from pricing.shapes import QUALCOMM_QAIC

ON_DEMAND, SPOT = CapacityType.ON_DEMAND, CapacityType.SPOT


def price(catalog: Catalog, name: str, zone: str, capacity: CapacityType) -> Offering:
    found = catalog.find(OfferingRef(name, zone, capacity.value))
    assert found is not None, f"{name}/{zone}/{capacity} not in {catalog.cloud} {catalog.region}"
    return found


def shape(cloud: str, name: str, region: str | None = None) -> InstanceType:
    return load_catalog(cloud, region).instance_types[name]


# --- what is in the snapshot ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cloud", "default", "region_count", "types_in_default_region"),
    [("aws", "us-east-1", 27, 1340), ("gcp", "us-central1", 44, 591), ("azure", "eastus", 58, 1377)],
)
def test_each_cloud_has_its_regions_and_default(
    cloud: str, default: str, region_count: int, types_in_default_region: int
) -> None:
    catalog = load_catalog(cloud)

    assert default_region(cloud) == default == catalog.region
    assert len(regions(cloud)) == region_count and default in regions(cloud)
    assert len(catalog.instance_types) == types_in_default_region
    assert all(o.price_usd_per_hour > 0 for o in catalog)


def test_oci_defaults_to_the_one_region_its_data_lists() -> None:
    assert regions("oci") == ("us-sanjose-1",)
    catalog = load_catalog("oci")
    gpu_shapes = sum(1 for it in catalog.instance_types.values() if it.accelerator is not None)
    assert (catalog.region, gpu_shapes) == ("us-sanjose-1", 21)  # the shared GPU file; the rest are CPU flex sizes
    assert {o.zone for o in catalog} == {"US-SANJOSE-1-AD-1"}


def test_known_rows_keep_their_prices_and_sources() -> None:
    aws = load_catalog("aws")
    m5 = price(aws, "m5.large", "us-east-1a", ON_DEMAND)
    assert m5.price_usd_per_hour == 0.096
    assert m5.provenance.as_of == date(2026, 7, 20) and "on-demand price list" in m5.provenance.source
    g5 = price(aws, "g5.xlarge", "us-east-1b", SPOT)
    assert (g5.price_usd_per_hour, g5.interruption_band, g5.price_estimated) == (0.39388, ">20%", False)
    assert g5.provenance.as_of == date(2025, 11, 30)

    gcp = load_catalog("gcp")
    assert price(gcp, "n1-standard-4", "us-central1-a", ON_DEMAND).price_usd_per_hour == 0.19
    assert price(gcp, "n1-standard-4", "us-central1-a", SPOT).price_usd_per_hour == 0.06977
    assert price(gcp, "a2-highgpu-1g", "us-central1-a", ON_DEMAND).price_usd_per_hour == 3.67339

    azure = load_catalog("azure")
    t4 = price(azure, "Standard_NC4as_T4_v3", "eastus", ON_DEMAND)
    assert (t4.price_usd_per_hour, price(azure, "Standard_NC4as_T4_v3", "eastus", SPOT).price_usd_per_hour) == (
        0.526,
        0.204246,
    )

    oci = load_catalog("oci")
    assert price(oci, "VM.GPU.A10.1", "US-SANJOSE-1-AD-1", ON_DEMAND).price_usd_per_hour == 2.0
    assert price(oci, "VM.GPU3.1", "US-SANJOSE-1-AD-1", SPOT).price_usd_per_hour == 1.475


def test_aws_gpu_regions_carry_observed_spot_and_zones_from_ec2_offerings() -> None:
    frankfurt = load_catalog("aws", "eu-central-1")
    dl2q = [o for o in frankfurt if o.name == "dl2q.24xlarge"]
    assert {(o.zone, o.capacity_type) for o in dl2q} == {("eu-central-1c", ON_DEMAND), ("eu-central-1c", SPOT)}
    assert {o.price_usd_per_hour for o in dl2q} == {11.5952, 1.4585}
    assert frankfurt.provenance.as_of == date(2025, 11, 30)


def test_catalog_provenance_names_the_snapshot_and_its_oldest_source() -> None:
    aws = load_catalog("aws")
    assert snapshot_version() in aws.provenance.source
    assert aws.provenance.as_of == date(2025, 11, 30)


# --- how types are described ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cloud", "name", "sku", "count", "share_milli"),
    [
        ("aws", "g6f.large", "L4", 1, 125),
        ("aws", "g6f.2xlarge", "L4", 1, 250),
        ("aws", "g6f.4xlarge", "L4", 1, 500),
        ("aws", "gr6f.4xlarge", "L4", 1, 500),
        ("aws", "g6.xlarge", "L4", 1, 1000),
        ("azure", "Standard_NV6ads_A10_v5", "A10", 1, 167),
        ("azure", "Standard_NV12ads_A10_v5", "A10", 1, 333),
        ("azure", "Standard_NV18ads_A10_v5", "A10", 1, 500),
        ("azure", "Standard_NV36ads_A10_v5", "A10", 1, 1000),
        ("azure", "Standard_NV72ads_A10_v5", "A10", 2, 1000),
        ("azure", "Standard_NV4as_v4", "MI25", 1, 125),
        ("azure", "Standard_NV32as_v4", "MI25", 1, 1000),
    ],
)
def test_fractional_gpus_are_one_device_with_a_share(
    cloud: str, name: str, sku: str, count: int, share_milli: int
) -> None:
    acc = shape(cloud, name).accelerator
    assert acc is not None
    assert (acc.sku, acc.count, acc.share_milli) == (sku, count, share_milli)


@pytest.mark.parametrize(
    ("cloud", "name", "family"),
    [
        ("aws", "g5.xlarge", "g5"),
        ("aws", "p4d.24xlarge", "p4d"),
        ("gcp", "n1-standard-4", "n1"),
        ("gcp", "a2-highgpu-1g", "a2"),
        ("gcp", "n1-standard-4_t4x1", "n1"),
        ("azure", "Standard_NC6s_v3", "NCv3"),
        ("azure", "Standard_NC4as_T4_v3", "NCasT4_v3"),
        ("azure", "Standard_NV6ads_A10_v5", "NVadsA10_v5"),
        ("azure", "Standard_D4s_v5", "Dsv5"),
        ("oci", "VM.GPU.A10.1", "VM.GPU.A10"),
        ("oci", "BM.GPU.H100.8", "BM.GPU.H100"),
    ],
)
def test_families_are_the_clouds_own(cloud: str, name: str, family: str) -> None:
    assert shape(cloud, name).family == family


@pytest.mark.parametrize(
    ("cloud", "name", "arch"),
    [
        ("aws", "m7g.large", Arch.ARM64),
        ("aws", "g5g.xlarge", Arch.ARM64),
        ("aws", "m5.large", Arch.AMD64),
        ("aws", "c1.medium", Arch.AMD64),  # reported as i386;x86_64
        ("gcp", "t2a-standard-1", Arch.ARM64),
        ("gcp", "n2-standard-2", Arch.AMD64),
        ("azure", "Standard_D4ps_v5", Arch.ARM64),
        ("azure", "Standard_D4s_v5", Arch.AMD64),
        ("oci", "BM.GPU.GB200.4", Arch.ARM64),
        ("oci", "VM.GPU.A10.1", Arch.AMD64),
    ],
)
def test_architecture(cloud: str, name: str, arch: Arch) -> None:
    assert shape(cloud, name).arch == arch


@pytest.mark.parametrize(
    ("cloud", "name", "max_pods"),
    [
        ("aws", "t3.micro", 4),  # 2 ENIs x (2 - 1) + 2
        ("aws", "m5.large", 29),  # 3 x (10 - 1) + 2
        ("aws", "g5.xlarge", 58),  # 4 x (15 - 1) + 2
        ("aws", "m5.4xlarge", 110),  # 8 x 29 + 2 = 234, capped: 16 vCPUs
        ("aws", "m5.24xlarge", 250),  # 15 x 49 + 2 = 737, capped: 96 vCPUs
        ("gcp", "n1-standard-4", 110),
        ("azure", "Standard_D4s_v5", 250),
        ("oci", "VM.GPU.A10.1", 110),
    ],
)
def test_max_pods_per_cloud(cloud: str, name: str, max_pods: int) -> None:
    assert shape(cloud, name).max_pods == max_pods


@pytest.mark.parametrize(
    ("cloud", "region", "name", "sku"),
    [
        ("aws", None, "g5.xlarge", "A10G"),
        ("azure", None, "Standard_NV36ads_A10_v5", "A10"),
        ("oci", None, "VM.GPU.A10.1", "A10"),
        ("aws", None, "p4d.24xlarge", "A100-40GB"),
        ("aws", None, "p4de.24xlarge", "A100-80GB"),
        ("gcp", None, "a2-highgpu-1g", "A100-40GB"),
        ("gcp", None, "a2-ultragpu-1g", "A100-80GB"),
        ("azure", None, "Standard_ND96asr_v4", "A100-40GB"),
        ("azure", None, "Standard_NC24ads_A100_v4", "A100-80GB"),
        ("oci", None, "BM.GPU4.8", "A100-40GB"),
        ("oci", None, "BM.GPU.A100-v2.8", "A100-80GB"),
        ("aws", None, "p3dn.24xlarge", "V100-32GB"),
        ("azure", None, "Standard_NC6s_v3", "V100-16GB"),
        ("gcp", None, "a3-megagpu-8g", "H100"),
        ("aws", None, "g7e.2xlarge", "RTX-PRO-6000"),
        ("oci", None, "BM.GPU.RTXPRO.8", "RTX-PRO-6000"),
        ("aws", "us-west-2", "dl2q.24xlarge", "QUALCOMM-AI100"),
    ],
)
def test_gpu_names_are_normalised_across_clouds(cloud: str, region: str | None, name: str, sku: str) -> None:
    acc = shape(cloud, name, region).accelerator
    assert acc is not None and acc.sku == sku


def test_a_general_sku_selects_every_cloud_variant() -> None:
    assert requested_skus("a10") >= {"A10", "A10G"}
    assert requested_skus("A100") == {"A100-40GB", "A100-80GB"}


def test_every_sku_in_the_snapshot_can_be_asked_for() -> None:
    skus = {
        o.instance_type.accelerator.sku
        for cloud in ("aws", "gcp", "azure", "oci")
        for o in load_catalog(cloud)
        if o.instance_type.accelerator
    }
    assert skus <= set(known_skus())


@pytest.mark.parametrize(
    ("cloud", "region", "name", "kind", "resource"),
    [
        ("aws", None, "inf2.xlarge", "neuron", NEURON_PREFIX),
        ("aws", None, "trn1.2xlarge", "neuron", NEURON_PREFIX),
        ("aws", "us-west-2", "dl2q.24xlarge", "inference", QUALCOMM_QAIC),
        ("oci", None, "BM.GPU.MI300X.8", "gpu", AMD_GPU),
        ("aws", None, "g5.xlarge", "gpu", NVIDIA_GPU),
    ],
)
def test_devices_are_exposed_under_their_device_plugins_resource(
    cloud: str, region: str | None, name: str, kind: str, resource: str
) -> None:
    acc = shape(cloud, name, region).accelerator
    assert acc is not None and (acc.kind, acc.resource_name) == (kind, resource)
    assert shape(cloud, name, region).capacity().extended == {resource: acc.count}


def test_gcp_n1_gpu_combinations_add_the_attach_price_within_n1_limits() -> None:
    gcp = load_catalog("gcp")
    host = price(gcp, "n1-standard-4", "us-central1-a", ON_DEMAND).price_usd_per_hour
    combo = price(gcp, "n1-standard-4_t4x1", "us-central1-a", ON_DEMAND)
    assert combo.price_usd_per_hour == pytest.approx(host + 0.35)
    assert "n1-standard-8_v100x1" in gcp.instance_types  # 8 vCPUs: within V100 x1's 12
    assert "n1-standard-16_v100x1" not in gcp.instance_types  # 16 vCPUs: over it
    assert "n1-standard-16_v100x2" in gcp.instance_types


# --- data faults ----------------------------------------------------------------------------------------------


def test_gcp_a4_with_a_zero_host_price_is_not_offered() -> None:
    assert "a4-highgpu-8g" not in load_catalog("gcp").instance_types


def test_azure_h200_spot_copied_from_on_demand_is_not_an_observation() -> None:
    plain = load_catalog("azure", "australiaeast")
    assert [o.capacity_type for o in plain if o.name == "Standard_ND96isr_H200_v5"] == [ON_DEMAND]


# --- spot estimates -------------------------------------------------------------------------------------------


def test_the_catalog_makes_up_no_spot_price() -> None:
    assert load_catalog("aws").find(OfferingRef("m5.large", "us-east-1a", "spot")) is None
    assert not any(o.price_estimated for cloud in ("aws", "azure") for o in load_catalog(cloud))


# --- errors ---------------------------------------------------------------------------------------------------


def test_an_unknown_cloud_lists_the_clouds() -> None:
    with pytest.raises(CatalogError, match="unknown cloud 'ibm': choose one of aws, gcp, azure, oci"):
        load_catalog("ibm")


def test_an_unknown_region_names_the_nearest_ones() -> None:
    with pytest.raises(CatalogError) as err:
        load_catalog("aws", "us-east-3")
    assert "'us-east-3'" in str(err.value) and "us-east-1" in str(err.value) and "us-east-2" in str(err.value)


def test_a_region_with_no_near_match_lists_all_choices() -> None:
    with pytest.raises(CatalogError, match="choose one of: us-sanjose-1"):
        load_catalog("oci", "us-ashburn-1")


def test_cloud_and_region_names_are_case_insensitive() -> None:
    assert load_catalog(" AWS ", "US-EAST-1") is load_catalog("aws", "us-east-1")


# --- speed: disk cache and memo -------------------------------------------------------------------------------


def test_catalogs_are_memoised() -> None:
    source = BundledCatalogSource(cache_dir=None)
    assert source.load("oci") is source.catalog("oci", "us-sanjose-1")


def cache_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("catalog-*-gcp-us-central1.pickle"))


def test_a_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    expected = BundledCatalogSource(cache_dir=tmp_path).catalog("gcp", "us-central1")
    (cached,) = cache_files(tmp_path)
    cached.write_bytes(b"\x80\x05 not a pickle")

    rebuilt = BundledCatalogSource(cache_dir=tmp_path).catalog("gcp", "us-central1")

    assert rebuilt.offerings == expected.offerings
    assert pickle.loads(cached.read_bytes())[0][1] == snapshot_version()


def test_a_cache_that_names_a_class_is_refused(tmp_path: Path) -> None:
    BundledCatalogSource(cache_dir=tmp_path).catalog("gcp", "us-central1")
    (cached,) = cache_files(tmp_path)
    cached.write_bytes(pickle.dumps(Path("/etc/passwd")))

    catalog = BundledCatalogSource(cache_dir=tmp_path).catalog("gcp", "us-central1")

    assert len(catalog) == len(load_catalog("gcp"))


def test_a_cache_of_the_right_version_but_the_wrong_shape_is_rebuilt(tmp_path: Path) -> None:
    BundledCatalogSource(cache_dir=tmp_path).catalog("gcp", "us-central1")
    (cached,) = cache_files(tmp_path)
    header = pickle.loads(cached.read_bytes())[0]
    cached.write_bytes(pickle.dumps((header, (("n1-standard-4", "n1"),), ((0, "us-central1-a"),))))

    catalog = BundledCatalogSource(cache_dir=tmp_path).catalog("gcp", "us-central1")

    assert len(catalog) == len(load_catalog("gcp"))


def test_caches_of_older_snapshots_are_removed(tmp_path: Path) -> None:
    old = tmp_path / "catalog-2020-01-01+000000000000-gcp-us-central1.pickle"
    old.write_bytes(b"old")
    other_region = tmp_path / "catalog-2020-01-01+000000000000-gcp-us-east1.pickle"
    other_region.write_bytes(b"old")

    BundledCatalogSource(cache_dir=tmp_path).catalog("gcp", "us-central1")

    assert not old.exists() and other_region.exists()
    assert [p.name for p in cache_files(tmp_path)] == [f"catalog-{snapshot_version()}-gcp-us-central1.pickle"]


def test_an_unwritable_cache_directory_only_costs_speed(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")

    catalog = BundledCatalogSource(cache_dir=blocker / "luna").catalog("oci", "us-sanjose-1")

    assert len(catalog) == len(load_catalog("oci"))


def test_the_default_cache_lives_under_xdg_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    BundledCatalogSource().catalog("oci", "us-sanjose-1")

    assert len(list((tmp_path / "luna-autoscaler").glob("catalog-*-oci-us-sanjose-1.pickle"))) == 1
