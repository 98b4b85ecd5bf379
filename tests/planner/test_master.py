"""Patterns chosen against each other (planner/master.py): never dearer than the greedy packing, often cheaper,
deterministic in any pod and catalog order, and bounded (many classes keep the greedy plan)."""

from __future__ import annotations

import random

import pytest

from luna_autoscaler.models.catalog import CapacityType, Catalog
from luna_autoscaler.models.pod import Pod
from luna_autoscaler.planner import master
from tests.planner.conftest import TYPES, catalog, config, offering, on_demand_catalog, pod, run

CAT = catalog(*(offering(n, z) for n in TYPES for z in ("us-east-1a", "us-east-1b")))
SPOT_CAT = catalog(*(offering(n, "us-east-1a", ct) for n in TYPES for ct in CapacityType))
CFG = config(gpuTimeSlicing=[{"gpuSkus": ["T4"], "replicas": 4, "renameByDefault": True}])


def mix(seed: int, count: int = 90) -> list[Pod]:
    rng = random.Random(seed)
    pods = []
    for i in range(count):
        kind = rng.random()
        if kind < 0.6:
            pods.append(pod(f"c{i}", f"{rng.choice((300, 700, 1100, 1900, 2600))}m", f"{rng.choice((1, 3, 5, 7))}Gi"))
        elif kind < 0.8:
            pods.append(pod(f"g{i}", f"{rng.choice((1, 3, 6))}", "4Gi", gpus=rng.choice((1, 1, 2))))
        else:
            pods.append(pod(f"s{i}", "700m", "2Gi", shared_gpus=1))
    return pods


def cutting_stock(seed: int) -> list[Pod]:
    """Four CPU pod sizes, 5-40 pods each: where anchor-by-anchor greedy packing leaves room a mix would use."""
    rng = random.Random(seed)
    sizes = [rng.choice((700, 1100, 1300, 1700, 2300, 2900, 3100)) for _ in range(4)]
    return [
        pod(f"p{j}-{i}", f"{size}m", f"{rng.choice((1, 2, 3))}Gi")
        for j, size in enumerate(sizes)
        for i in range(rng.randint(5, 40))
    ]


def greedy_only(pods: list[Pod], cat: Catalog, monkeypatch: pytest.MonkeyPatch) -> float:
    with monkeypatch.context() as m:
        m.setattr(master, "MAX_CLASSES", 0)
        return run(pods, cat, CFG).total_price_usd_per_hour


def test_never_dearer_than_the_greedy_packing_and_cheaper_on_some(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu_catalog = on_demand_catalog("m5.xlarge", "m5.2xlarge", "c5.large")
    cheaper = 0
    for seed in range(18):
        pods = cutting_stock(seed) if seed % 3 else mix(seed)
        cat = cpu_catalog if seed % 3 else CAT
        chosen, greedy = run(pods, cat, CFG), greedy_only(pods, cat, monkeypatch)
        assert chosen.total_price_usd_per_hour <= greedy + 1e-6, seed
        assert sorted(p for n in chosen.new_nodes for p in n.pods) == sorted(p.key for p in pods), (
            "every pod on exactly one node"
        )
        cheaper += chosen.total_price_usd_per_hour < greedy - 1e-6
    assert cheaper, "column generation never improved on the greedy packing"


def test_same_plan_in_any_pod_and_catalog_order() -> None:
    pods = mix(3)
    first = run(pods, SPOT_CAT, CFG)
    for seed in range(3):
        shuffled = random.Random(seed).sample(pods, len(pods))
        reordered = catalog(*random.Random(seed).sample(SPOT_CAT.offerings, len(SPOT_CAT.offerings)))
        assert run(shuffled, reordered, CFG) == first


def test_beyond_max_classes_the_greedy_plan_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu_catalog = on_demand_catalog("m5.xlarge", "m5.2xlarge", "c5.large")
    pods = cutting_stock(9)
    greedy = greedy_only(pods, cpu_catalog, monkeypatch)
    assert run(pods, cpu_catalog, CFG).total_price_usd_per_hour < greedy - 1e-6
    monkeypatch.setattr(master, "MAX_CLASSES", 3)
    assert run(pods, cpu_catalog, CFG).total_price_usd_per_hour == greedy


def mixed_sizes() -> list[Pod]:
    """CPU-heavy, memory-heavy and balanced pods: the cheap nodes mix them in proportions no greedy fill tries."""
    sizes = [("1300m", "1Gi", 18), ("3100m", "11Gi", 17), ("3100m", "9Gi", 15), ("700m", "3Gi", 6)]
    return [pod(f"p{j}-{i}", cpu, memory) for j, (cpu, memory, n) in enumerate(sizes) for i in range(n)]


MIXED_CATALOG = on_demand_catalog("m5.large", "m5.xlarge", "m5.2xlarge", "m5.4xlarge", "c5.large")


def test_exact_pricing_finds_the_patterns_greedy_pricing_misses(monkeypatch: pytest.MonkeyPatch) -> None:
    pods = mixed_sizes()
    chosen = run(pods, MIXED_CATALOG, CFG).total_price_usd_per_hour
    with monkeypatch.context() as m:
        m.setattr(master, "ROUNDED_PER_ROUND", 0)
        exact_only = run(pods, MIXED_CATALOG, CFG).total_price_usd_per_hour
        m.setattr(master, "EXACT_PRICINGS", 0)
        greedy_pricing = run(pods, MIXED_CATALOG, CFG).total_price_usd_per_hour
    assert exact_only < greedy_pricing - 0.05, "exact pricing found no cheaper patterns"
    assert chosen <= exact_only + 1e-6
    assert chosen <= greedy_only(pods, MIXED_CATALOG, monkeypatch) + 1e-6


def test_the_pricing_ladder_is_the_same_in_any_pod_and_catalog_order() -> None:
    pods = mixed_sizes()
    first = run(pods, MIXED_CATALOG, CFG)
    for seed in range(3):
        shuffled = random.Random(seed).sample(pods, len(pods))
        offerings = random.Random(seed).sample(MIXED_CATALOG.offerings, len(MIXED_CATALOG.offerings))
        assert run(shuffled, catalog(*offerings), CFG) == first


def test_plan_optimization_rounds_bound_the_work_and_zero_keeps_the_greedy_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cpu_catalog = on_demand_catalog("m5.xlarge", "m5.2xlarge", "c5.large")
    improved = [
        s
        for s in range(1, 18)
        if s % 3
        and run(cutting_stock(s), cpu_catalog, CFG).total_price_usd_per_hour
        < greedy_only(cutting_stock(s), cpu_catalog, monkeypatch) - 1e-6
    ]
    assert improved, "no instance where column generation helps"
    pods = cutting_stock(improved[0])
    greedy = greedy_only(pods, cpu_catalog, monkeypatch)
    off = config(planOptimizationRounds=0, gpuTimeSlicing=[{"gpuSkus": ["T4"], "replicas": 4, "renameByDefault": True}])
    assert run(pods, cpu_catalog, off).total_price_usd_per_hour == pytest.approx(greedy)
    costs = [
        run(pods, cpu_catalog, config(planOptimizationRounds=r)).total_price_usd_per_hour for r in (1, 3, 30, 1000)
    ]
    assert all(c <= greedy + 1e-6 for c in costs)
    assert costs[-1] < greedy - 1e-6
