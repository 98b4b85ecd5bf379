"""The simulated cloud: capacity that runs out, join delays, spot interruption rates, billing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from luna_autoscaler.errors import InsufficientCapacity
from luna_autoscaler.models.catalog import (
    Accelerator,
    CapacityType,
    Catalog,
    InstanceType,
    Offering,
    PriceProvenance,
)
from luna_autoscaler.ports import InterruptionKind, LaunchRequest
from luna_autoscaler.simulation.cloud import CloudModel, SimulatedCloud, Span, hourly_hazard, monthly_interruption
from providers.fake import FakeProvider

START = datetime(2025, 6, 2, tzinfo=UTC)
PROVENANCE = PriceProvenance("test", date(2025, 6, 1))
CPU_TYPE = InstanceType("aws", "m6i.xlarge", "m6i", 4, 16384)
GPU_TYPE = InstanceType("aws", "g4dn.xlarge", "g4dn", 4, 16384, accelerator=Accelerator("T4", 1))


def offering(it: InstanceType, capacity: CapacityType, price: float, band: str | None = None) -> Offering:
    return Offering(it, "us-east-1", "us-east-1a", capacity, price, PROVENANCE, interruption_band=band)


CATALOG = Catalog(
    "aws",
    "us-east-1",
    (
        offering(CPU_TYPE, CapacityType.ON_DEMAND, 0.192),
        offering(CPU_TYPE, CapacityType.SPOT, 0.07, ">20%"),
        offering(GPU_TYPE, CapacityType.ON_DEMAND, 0.526),
        offering(GPU_TYPE, CapacityType.SPOT, 0.18, "<5%"),
    ),
    PROVENANCE,
)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def cloud(model: CloudModel) -> tuple[SimulatedCloud, Clock]:
    clock = Clock()
    return SimulatedCloud(FakeProvider(CATALOG, clock, cluster_name="sim"), model, clock, started_at=START), clock


def request(launch_id: str, o: Offering) -> LaunchRequest:
    return LaunchRequest(launch_id, "sim", (o,), labels={"team": "ml"})


@pytest.mark.parametrize(
    ("band", "monthly"), [("<5%", 0.025), ("5-10%", 0.075), ("10-15%", 0.125), ("15-20%", 0.175), (">20%", 0.25)]
)
def test_aws_interruption_bands_become_monthly_rates(band: str, monthly: float) -> None:
    assert monthly_interruption(band, default=0.1) == pytest.approx(monthly)


def test_unknown_band_uses_the_default_and_the_hazard_matches_the_monthly_rate() -> None:
    assert monthly_interruption(None, default=0.1) == 0.1
    assert monthly_interruption("frequent", default=0.1) == 0.1
    survival_after_a_month = pow(2.718281828459045, -hourly_hazard(0.25) * 730)
    assert survival_after_a_month == pytest.approx(0.75)


def test_sold_out_offerings_follow_the_fraction_and_are_a_pure_function_of_seed_and_time() -> None:
    model = CloudModel(seed=7, ice_spot_fraction=0.3, ice_on_demand_fraction=0.0)
    spot = [o.ref for o in CATALOG if o.capacity_type is CapacityType.SPOT]
    draws = [model.sold_out(ref, hour * 3600.0) for ref in spot for hour in range(2000)]
    assert 0.27 < sum(draws) / len(draws) < 0.33
    assert draws == [model.sold_out(ref, hour * 3600.0) for ref in spot for hour in range(2000)]
    assert not any(model.sold_out(o.ref, 0.0) for o in CATALOG if o.capacity_type is CapacityType.ON_DEMAND)
    within_period = [model.sold_out(spot[0], 3600.0 * 5 + s) for s in (0, 1000, 3599)]
    assert len(set(within_period)) == 1


def test_launching_a_sold_out_offering_raises_insufficient_capacity_for_it() -> None:
    sim, _ = cloud(CloudModel(ice_spot_fraction=1.0, ice_on_demand_fraction=0.0))
    spot = CATALOG.offerings[1]
    with pytest.raises(InsufficientCapacity) as caught:
        sim.launch(request("l1", spot))
    assert caught.value.offerings == (spot.ref,)
    assert caught.value.spot_unavailable
    assert sim.insufficient_capacity_errors == 1
    assert sim.list_instances() == ()
    assert sim.launch(request("l2", CATALOG.offerings[0])).instance_type == "m6i.xlarge"


def test_machines_join_after_their_drawn_delay_gpu_ones_later_with_labels_from_the_request() -> None:
    model = CloudModel(cpu_join=Span(60, 180), gpu_join=Span(200, 300), gpu_plugin=Span(30, 60), ice_spot_fraction=0)
    sim, _ = cloud(model)
    sim.launch(request("cpu", CATALOG.offerings[0]))
    sim.launch(request("gpu", CATALOG.offerings[2]))
    sim.launch(request("gpu", CATALOG.offerings[2]))  # idempotent replay: one machine
    cpu, gpu = sim.take_launched()
    assert sim.take_launched() == []
    assert cpu.joins_at is not None and gpu.joins_at is not None and gpu.gpus_ready_at is not None
    assert timedelta(seconds=60) <= cpu.joins_at - START <= timedelta(seconds=180)
    assert timedelta(seconds=200) <= gpu.joins_at - START <= timedelta(seconds=300)
    assert timedelta(seconds=30) <= gpu.gpus_ready_at - gpu.joins_at <= timedelta(seconds=60)
    assert cpu.labels == {"team": "ml"}


def test_the_same_seed_draws_the_same_history_and_another_seed_another() -> None:
    def history(seed: int) -> list[object]:
        sim, _ = cloud(CloudModel(seed=seed, ice_spot_fraction=0, interruption_rate_multiplier=500.0))
        for i in range(5):
            sim.launch(request(f"l{i}", CATALOG.offerings[1]))
        return [(m.joins_at, m.interrupted_at) for m in sim.take_launched()]

    assert history(1) == history(1)
    assert history(1) != history(2)


def test_spot_machines_are_interrupted_at_the_band_rate() -> None:
    sim, _ = cloud(CloudModel(ice_spot_fraction=0))
    for i in range(400):
        sim.launch(request(f"l{i}", CATALOG.offerings[1]))  # >20 %: a quarter interrupted within a month
    within_month = sum(
        1
        for m in sim.take_launched()
        if m.interrupted_at is not None and m.interrupted_at - START <= timedelta(hours=730)
    )
    assert 70 <= within_month <= 130
    sim.launch(request("od", CATALOG.offerings[0]))
    assert sim.take_launched()[0].interrupted_at is None


def test_a_notice_then_the_reclaim_ends_the_machine_and_its_bill() -> None:
    sim, clock = cloud(CloudModel(ice_spot_fraction=0))
    instance = sim.launch(request("l1", CATALOG.offerings[1]))
    clock.now = START + timedelta(hours=2)
    deadline = sim.send_notice(instance.instance_id)
    assert deadline == clock.now + timedelta(seconds=120)
    (notice,) = sim.poll_interruptions()
    assert (notice.instance_id, notice.kind, notice.deadline) == (
        instance.instance_id,
        InterruptionKind.SPOT_INTERRUPTION,
        deadline,
    )
    assert sim.poll_interruptions() == []
    clock.now = deadline
    reclaimed = sim.reclaim(instance.instance_id)
    assert reclaimed is not None and reclaimed.end_reason == "interrupted"
    assert sim.reclaim(instance.instance_id) is None
    assert sim.list_instances() == ()
    assert reclaimed.cost_usd(START + timedelta(hours=10)) == pytest.approx(0.07 * (2 + 120 / 3600))


def test_terminate_is_reported_to_the_simulation_once() -> None:
    sim, clock = cloud(CloudModel(ice_spot_fraction=0))
    instance = sim.launch(request("l1", CATALOG.offerings[0]))
    clock.now = START + timedelta(minutes=30)
    sim.terminate(instance.instance_id)
    sim.terminate(instance.instance_id)
    (ended,) = sim.take_ended()
    assert ended.end_reason == "terminated" and ended.hours(START + timedelta(hours=5)) == pytest.approx(0.5)
