"""The AWS spot limits as exclusions on the offerings: the one implementation `plan`, the fake and the AWS provider use."""

from __future__ import annotations

from luna_autoscaler.config import config_from_mapping
from luna_autoscaler.models.catalog import CapacityType
from pricing.aws.spot_policy import apply, interruption_bucket
from tests.planner.conftest import catalog, offering

SPOT = CapacityType.SPOT


def test_bands_are_read_with_or_without_spaces_and_an_unknown_band_is_no_evidence():
    assert [interruption_bucket(b) for b in ("<5%", "5 - 10%", "10-15%", "15-20%", ">20%")] == [0, 1, 2, 3, 4]
    assert interruption_bucket("unheard-of") is None and interruption_bucket(None) is None


def test_the_ratio_is_to_the_on_demand_price_in_the_same_zone_else_in_the_region():
    cat = catalog(
        offering("m5.large", "us-east-1a", price=0.10),
        offering("m5.large", "us-east-1b", price=0.20),
        offering("m5.large", "us-east-1a", SPOT, 0.08),  # 0.8 of its zone's on-demand
        offering("m5.large", "us-east-1b", SPOT, 0.08),  # 0.4 of its zone's
        offering("m5.large", "us-east-1c", SPOT, 0.08),  # no on-demand in 1c: 0.8 of the region's cheapest
    )
    limited = apply(cat, max_interrupt_bucket=None, max_price_ratio=0.5)
    excluded = {o.zone: o.exclusion for o in limited if o.capacity_type is SPOT}
    reason = "spot/on-demand price ratio above aws.maxSpotPriceRatio 0.5"
    assert excluded == {"us-east-1a": reason, "us-east-1b": None, "us-east-1c": reason}
    assert len(limited) == len(cat)  # excluded offerings are kept


def test_riskier_bands_are_excluded_and_no_limit_leaves_the_catalog_as_it_is():
    cat = catalog(offering("m5.large"), offering("m5.large", capacity_type=SPOT, price=0.03, band="15-20%"))
    assert apply(cat, max_interrupt_bucket=None, max_price_ratio=None) is cat
    (spot,) = [o for o in apply(cat, max_interrupt_bucket=2, max_price_ratio=None) if o.capacity_type is SPOT]
    assert spot.exclusion == "spot interruption 15-20% above aws.maxSpotInterruptBucket 2"
    assert apply(cat, max_interrupt_bucket=3, max_price_ratio=None) is cat


def test_the_aws_section_applies_the_same_policy_to_any_catalog_of_its_cloud():
    cat = catalog(offering("m5.large"), offering("m5.large", capacity_type=SPOT, price=0.03, band=">20%"))
    config = config_from_mapping({"aws": {"maxSpotInterruptBucket": 1}})
    (spot,) = [o for o in config.with_cloud_policy(cat) if o.capacity_type is SPOT]
    assert spot.exclusion == "spot interruption >20% above aws.maxSpotInterruptBucket 1"
