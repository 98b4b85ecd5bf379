"""OCI prices: the bundled flexible CPU shapes and OKE's taints, and the live price list (paging, joining parts
to shapes, preemptible at 50 %, refresh schedule, stale-while-error, atomic swap, price-age metrics)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from luna_autoscaler.models.catalog import CapacityType
from pricing.catalog import load_catalog
from pricing.oci.node_policy import PREEMPTIBLE_TAINT
from pricing.oci.price_list import fetch_parts
from pricing.oci.shapes import launch_shape
from pricing.shapes import instance_family
from providers.oci.provider import OciProvider
from tests.aws.clock import FakeClock
from tests.oci.conftest import MakeProvider
from tests.oci.recording_server import FIXTURES, RecordingOciServer

A10 = "VM.GPU.A10.1"
E4 = "VM.Standard.E4.Flex.4o.64g"


def price(provider: OciProvider, name: str, capacity: CapacityType = CapacityType.ON_DEMAND) -> float:
    catalog = provider.catalog()
    return next(o.price_usd_per_hour for o in catalog if o.name == name and o.capacity_type is capacity)


def test_the_bundled_catalog_has_flexible_cpu_shapes_priced_per_ocpu_and_gb() -> None:
    catalog = load_catalog("oci")
    cpu = {
        o.name: o for o in catalog if o.instance_type.accelerator is None and o.capacity_type is CapacityType.ON_DEMAND
    }

    assert {instance_family("oci", n) for n in cpu} == {
        "VM.Standard.E4.Flex", "VM.Standard.E5.Flex", "VM.Standard.A1.Flex"
    }  # fmt: skip
    e4 = cpu[E4]
    assert e4.price_usd_per_hour == pytest.approx(4 * 0.025 + 64 * 0.0015)
    assert (e4.instance_type.vcpus, e4.instance_type.memory_mib) == (8, 64 * 1024)
    assert cpu["VM.Standard.A1.Flex.4o.24g"].instance_type.vcpus == 4  # one vCPU per Ampere OCPU
    assert launch_shape(E4).shape == "VM.Standard.E4.Flex" and launch_shape(A10).ocpus is None


def test_oke_bootstrap_taints_are_on_the_offerings_of_the_bundled_catalog() -> None:
    catalog = load_catalog("oci")
    by_key = {(o.name, o.capacity_type): o for o in catalog}

    assert by_key[(E4, CapacityType.ON_DEMAND)].node_taints == ()
    assert by_key[(E4, CapacityType.SPOT)].node_taints == (PREEMPTIBLE_TAINT,)
    assert [str(t) for t in by_key[(A10, CapacityType.ON_DEMAND)].node_taints] == ["nvidia.com/gpu=present:NoSchedule"]
    mi300x = by_key[("BM.GPU.MI300X.8", CapacityType.ON_DEMAND)]
    assert [str(t) for t in mi300x.node_taints] == ["amd.com/gpu=present:NoSchedule"]
    assert all(not o.node_taints for o in load_catalog("aws"))  # the hook is OCI's alone


def test_the_price_list_is_read_across_pages_usd_pay_as_you_go_only(server: RecordingOciServer) -> None:
    read = fetch_parts(server.price_list_url)

    assert read.pages == 2
    assert read.parts_usd["B93113"] == 0.025  # E4 OCPU, not its EUR price
    assert read.parts_usd["B93297"] == 0.01  # A1 OCPU: the paid tier above the free allowance
    assert read.parts_usd["B95909"] == 2.0  # A10, per GPU-hour


def test_live_prices_replace_the_bundled_ones_gpu_per_gpu_hour(
    make_provider: MakeProvider, server: RecordingOciServer, tmp_path: Path
) -> None:
    page = json.loads((FIXTURES / "oci_products_page2.json").read_text())
    for item in page["items"]:
        if item["partNumber"] == "B95909":
            item["currencyCodeLocalizations"][0]["prices"][0]["value"] = 2.5
    changed = tmp_path / "page2.json"
    changed.write_text(json.dumps(page))
    server.state.price_pages = [FIXTURES / "oci_products_page1.json", changed]
    provider = make_provider()

    assert price(provider, "BM.GPU.A10.4") == 10.0  # 4 GPUs x 2.5
    assert price(provider, "VM.GPU3.1", CapacityType.SPOT) == 1.475  # V100 2.95 live, preemptible at 50 %
    b300 = next(o for o in provider.catalog() if o.name == "BM.GPU.B300.8")
    assert (b300.price_usd_per_hour, b300.provenance.source) == (
        120.0,
        "SkyPilot OCI catalog (region-invariant prices)",
    )


def test_refresh_is_periodic_keeps_the_last_good_prices_on_failure_and_swaps_atomically(
    make_provider: MakeProvider, server: RecordingOciServer, clock: FakeClock
) -> None:
    registry = CollectorRegistry()
    provider = make_provider(metrics_registry=registry, pricingRefreshInterval="1h")
    first = provider.catalog()
    assert provider.catalog() is first  # not due: the same immutable catalog
    assert registry.get_sample_value("luna_price_live", {"cloud": "oci", "source": "on-demand"}) == 1.0

    clock.advance(3600)
    server.fail("ListProducts", 503, "ServiceUnavailable", "maintenance")
    stale = provider.catalog()
    assert stale is first  # the failed fetch changed nothing
    assert registry.get_sample_value("luna_price_age_seconds", {"cloud": "oci", "source": "spot"}) == 3600.0

    clock.advance(299)
    assert provider.catalog() is first and len(server.calls("ListProducts")) == 3  # retry after 5 min, not yet
    clock.advance(1)
    fresh = provider.catalog()
    assert fresh is not first and len(server.calls("ListProducts")) == 5
    assert provider.price_ages()["on-demand"].age_seconds == 0.0


def test_without_any_good_fetch_the_bundled_prices_are_used_and_say_so(
    make_provider: MakeProvider, server: RecordingOciServer
) -> None:
    server.fail("ListProducts", 500, "InternalServerError", "boom")
    provider = make_provider()

    assert price(provider, E4) == pytest.approx(4 * 0.025 + 64 * 0.0015)
    ages = provider.price_ages()
    assert not ages["on-demand"].live and ages["on-demand"].age_seconds > 0
