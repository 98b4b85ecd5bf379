"""Same input, same plan: in any pod order, with every tie broken explicitly."""

from __future__ import annotations

import random

from luna_autoscaler.models.catalog import CapacityType
from tests.planner.conftest import TYPES, catalog, config, offering, pod, run

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
CAT = catalog(*(offering(n, z, ct) for n in TYPES for z in ZONES for ct in CapacityType))  # many exact ties
CFG = config(
    gpuTimeSlicing=[{"gpuSkus": ["T4"], "replicas": 4, "renameByDefault": True}], defaultOfferings="spot,on-demand"
)


def workload():
    rng = random.Random(3)
    pods = []
    for i in range(120):
        kind = rng.choice(("cpu", "big", "gpu", "shared", "sku"))
        if kind == "cpu":
            pods.append(pod(f"cpu{i}", f"{rng.choice((100, 250, 500))}m", f"{rng.choice((128, 512))}Mi"))
        elif kind == "big":
            pods.append(pod(f"big{i}", str(rng.choice((3, 6))), "6Gi"))
        elif kind == "gpu":
            pods.append(pod(f"gpu{i}", "1", "2Gi", gpus=rng.choice((1, 2, 4))))
        elif kind == "shared":
            pods.append(pod(f"sh{i}", "500m", "1Gi", shared_gpus=1))
        else:
            pods.append(pod(f"sku{i}", "1", "2Gi", gpus=1, annotations={"node.elotl.co/instance-gpu-skus": "A10G"}))
    return pods


def test_same_input_same_plan_in_any_order():
    pods = workload()
    first = run(pods, CAT, CFG)
    assert run(pods, CAT, CFG) == first
    for seed in range(3):
        shuffled = list(pods)
        random.Random(seed).shuffle(shuffled)
        reordered_catalog = catalog(*random.Random(seed).sample(CAT.offerings, len(CAT.offerings)))
        assert run(shuffled, reordered_catalog, CFG) == first
    assert sum(len(n.pods) for n in first.new_nodes) + len(first.unplaced) == len(pods)


def test_thousands_of_distinct_pods_same_plan_in_any_order():
    """Every pod its own class, more than packing.FEW_DEMANDS of them: the packer's per-fill arrays are compacted
    as classes run out, and the plan must still not depend on the order pods or offerings come in."""
    rng = random.Random(11)
    pods = [pod(f"d{i:04d}", f"{rng.randint(100, 3500)}m", f"{rng.randint(128, 12000)}Mi") for i in range(1_200)]
    cat = catalog(*(offering(n, z) for n in TYPES for z in ZONES))
    first = run(pods, cat)
    assert len({n.offering.instance_type.name for n in first.new_nodes}) > 1
    for seed in range(2):
        shuffled = random.Random(seed).sample(pods, len(pods))
        assert run(shuffled, catalog(*random.Random(seed).sample(cat.offerings, len(cat.offerings)))) == first
    assert sum(len(n.pods) for n in first.new_nodes) + len(first.unplaced) == len(pods)
