"""Choosing among offerings: spot first then on-demand, capacity errors, spot policy, estimated spot prices."""

from __future__ import annotations

from dataclasses import replace

from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models.catalog import CapacityType, Offering
from luna_autoscaler.models.scheduling import Taint
from tests.planner.conftest import catalog, config, daemonset, offering, pod, run, types_bought

SPOT = CapacityType.SPOT
ON_DEMAND = CapacityType.ON_DEMAND
SPOT_FIRST = {"node.elotl.co/instance-offerings": "spot,on-demand"}


def chosen(result):
    node = result.new_nodes[0]
    return node.offering.instance_type.name, node.offering.zone, node.offering.capacity_type


def test_cheapest_zone_wins_and_ties_break_by_zone_name():
    cat = catalog(
        offering("m5.large", "us-east-1b", SPOT, 0.030),
        offering("m5.large", "us-east-1a", SPOT, 0.031),
        offering("m5.large", "us-east-1c", SPOT, 0.030),
    )
    assert chosen(run([pod("a", annotations=SPOT_FIRST)], cat)) == ("m5.large", "us-east-1b", SPOT)


def test_spot_first_falls_back_to_on_demand_when_no_spot_offering_is_left():
    cat = catalog(offering("m5.large", "us-east-1a", SPOT, 0.03), offering("m5.large", "us-east-1a"))
    a_pod = pod("a", annotations=SPOT_FIRST)
    assert chosen(run([a_pod], cat))[2] is SPOT
    ice = frozenset({OfferingRef("m5.large", "us-east-1a", "spot")})
    result = run([a_pod], cat, unavailable=ice)
    assert chosen(result) == ("m5.large", "us-east-1a", ON_DEMAND)
    # The fleet fallbacks of a spot node list the on-demand offerings the pod also accepts, after the spot ones.
    spot_node = run([a_pod], catalog(*cat.offerings, offering("m5.large", "us-east-1b", SPOT, 0.035))).new_nodes[0]
    assert [(o.zone, o.capacity_type) for o in spot_node.alternatives][:2] == [
        ("us-east-1b", SPOT),
        ("us-east-1a", ON_DEMAND),
    ]


def test_spot_only_pods_stay_pending_when_spot_is_unavailable():
    cat = catalog(offering("m5.large", "us-east-1a", SPOT, 0.03), offering("m5.large", "us-east-1a"))
    ice = frozenset({OfferingRef("m5.large", "us-east-1a", "spot")})
    result = run([pod("a", annotations={"node.elotl.co/instance-offerings": "spot"})], cat, unavailable=ice)
    assert result.new_nodes == ()
    assert result.unplaced[0].reason == (
        "0/2 offerings: 1 capacity type on-demand not in [spot], 1 unavailable (insufficient capacity)"
    )


def test_an_offering_made_unavailable_by_a_capacity_error_is_skipped_for_the_next_cheapest():
    cat = catalog(offering("m5.large", "us-east-1a"), offering("m5.large", "us-east-1b"), offering("m5.xlarge"))
    ice = frozenset({OfferingRef("m5.large", "us-east-1a", "on-demand")})
    assert chosen(run([pod("a")], cat, unavailable=ice)) == ("m5.large", "us-east-1b", ON_DEMAND)
    both = ice | {OfferingRef("m5.large", "us-east-1b", "on-demand")}
    assert types_bought(run([pod("a")], cat, unavailable=both)) == ["m5.xlarge"]


def test_spot_price_estimated_from_the_ratio_when_the_catalog_has_none():
    cat = catalog(offering("m5.large", "us-east-1a"))
    result = run([pod("a", annotations=SPOT_FIRST)], cat, config(spotPriceRatioEstimate=0.4))
    node = result.new_nodes[0].offering
    assert (node.capacity_type, node.price_usd_per_hour, node.price_estimated) == (SPOT, round(0.096 * 0.4, 6), True)


def test_observed_spot_prices_are_not_replaced_by_the_estimate():
    cat = catalog(offering("m5.large", "us-east-1a"), offering("m5.large", "us-east-1a", SPOT, 0.05))
    node = run([pod("a", annotations=SPOT_FIRST)], cat, config(spotPriceRatioEstimate=0.1)).new_nodes[0].offering
    assert (node.price_usd_per_hour, node.price_estimated) == (0.05, False)


def test_aws_max_spot_interrupt_bucket_excludes_riskier_bands():
    cat = catalog(
        offering("m5.large", "us-east-1a", SPOT, 0.02, band=">20%"),
        offering("m5.xlarge", "us-east-1a", SPOT, 0.06, band="5-10%"),
        offering("m5.large", "us-east-1a"),
        offering("m5.xlarge", "us-east-1a"),
    )
    spot_only = pod("a", annotations={"node.elotl.co/instance-offerings": "spot"})
    assert types_bought(run([spot_only], cat)) == ["m5.large"]
    assert types_bought(run([spot_only], cat, config(aws={"maxSpotInterruptBucket": 1}))) == ["m5.xlarge"]
    result = run([spot_only], cat, config(aws={"maxSpotInterruptBucket": 0}))
    assert result.unplaced[0].rejections == {
        "spot interruption >20% above aws.maxSpotInterruptBucket 0": 1,
        "spot interruption 5-10% above aws.maxSpotInterruptBucket 0": 1,
        "capacity type on-demand not in [spot]": 2,
    }


def test_aws_max_spot_price_ratio_excludes_spot_too_close_to_on_demand():
    cat = catalog(offering("m5.large", "us-east-1a"), offering("m5.large", "us-east-1a", SPOT, 0.072))  # ratio 0.75
    a_pod = pod("a", annotations=SPOT_FIRST)
    assert chosen(run([a_pod], cat))[2] is SPOT
    assert chosen(run([a_pod], cat, config(aws={"maxSpotPriceRatio": 0.7})))[2] is ON_DEMAND


def test_an_offering_without_a_price_is_never_chosen():
    cat = catalog(offering("m5.large", price=0.0), offering("m5.xlarge"))
    assert types_bought(run([pod("a")], cat)) == ["m5.xlarge"]
    result = run([pod("a")], catalog(offering("m5.large", price=0.0)))
    assert result.unplaced[0].rejections == {"no price in the catalog": 1, "capacity type spot not in [on-demand]": 1}


def test_an_estimated_spot_offering_says_it_was_estimated_from_the_on_demand_row_at_the_live_ratio():
    cat = catalog(offering("m5.large", "us-east-1a"))
    for ratio in (0.35, 0.5):  # a ConfigMap change: the next plan uses the new ratio, nothing is restarted
        node = run([pod("a", annotations=SPOT_FIRST)], cat, config(spotPriceRatioEstimate=ratio)).new_nodes[0].offering
        assert (node.price_usd_per_hour, node.price_estimated) == (round(0.096 * ratio, 6), True)
        assert node.provenance.source == f"test, on-demand x spotPriceRatioEstimate {ratio:g}"


# --- what the cloud itself puts on a node (Offering.node_labels / node_taints) ----------------------------------

AKS_SPOT_TAINT = Taint("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule")
AKS_SPOT_TOLERATION = {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot"}


def tainted_spot(name: str, price: float) -> Offering:
    return replace(
        offering(name, "us-east-1a", SPOT, price),
        node_taints=(AKS_SPOT_TAINT,),
        node_labels={"kubernetes.azure.com/scalesetpriority": "spot"},
    )


def test_an_offering_whose_nodes_the_cloud_taints_takes_only_pods_that_tolerate_it():
    cat = catalog(offering("m5.large", "us-east-1a"), tainted_spot("m5.large", 0.03))
    intolerant = run([pod("a", annotations=SPOT_FIRST)], cat)
    assert chosen(intolerant)[2] is ON_DEMAND
    result = run([pod("a", annotations=SPOT_FIRST)], catalog(tainted_spot("m5.large", 0.03)))
    assert result.unplaced[0].rejections == {
        "taint kubernetes.azure.com/scalesetpriority=spot:NoSchedule not tolerated": 1
    }
    tolerant = run([pod("a", annotations=SPOT_FIRST, tolerations=[AKS_SPOT_TOLERATION])], cat)
    assert chosen(tolerant)[2] is SPOT


def test_a_pod_may_select_a_label_the_cloud_puts_on_the_offerings_nodes():
    cat = catalog(offering("m5.large", "us-east-1a"), tainted_spot("m5.xlarge", 0.06))
    selecting = pod(
        "a",
        annotations=SPOT_FIRST,
        tolerations=[AKS_SPOT_TOLERATION],
        node_selector={"kubernetes.azure.com/scalesetpriority": "spot"},
    )
    result = run([selecting], cat)
    assert chosen(result)[:3] == ("m5.xlarge", "us-east-1a", SPOT)


def test_a_daemonset_that_does_not_tolerate_the_clouds_taint_takes_nothing_there():
    cat = catalog(tainted_spot("m5.large", 0.03))
    spot_only = {"node.elotl.co/instance-offerings": "spot"}
    tolerant_pod = pod("a", "1500m", "2Gi", annotations=spot_only, tolerations=[AKS_SPOT_TOLERATION])
    agent = daemonset("agent", "500m", "256Mi")  # would leave too little CPU if it ran there
    assert types_bought(run([tolerant_pod], cat, daemonsets=(agent,))) == ["m5.large"]
