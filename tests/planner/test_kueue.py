"""Kueue admission through the shared queue model: nominal quota, borrowing from the cohort within
`borrowingLimit`, what `lendingLimit` keeps back, and which pods are evaluated at all (gated ones only)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from luna_autoscaler.errors import ManifestError
from luna_autoscaler.models.kueue import (
    KUEUE_ADMISSION_GATE,
    KUEUE_QUEUE_LABEL,
    ClusterQueue,
    LocalQueue,
    cluster_queue_from_manifest,
    local_queue_from_manifest,
)
from luna_autoscaler.models.pod import Pod
from luna_autoscaler.models.workloads import Gang
from luna_autoscaler.planner.queues import admit_kueue
from tests.kubeapi.objects import cluster_queue, local_queue
from tests.planner.conftest import pod

GPU = [{"key": "nvidia.com/gpu", "operator": "Exists"}]


def _cq(name: str, **kw: Any) -> ClusterQueue:
    return cluster_queue_from_manifest(cluster_queue(name, **kw))


def _lq(name: str, cq: str) -> LocalQueue:
    return local_queue_from_manifest(local_queue(name, cq, namespace="ns"))


def _waiting(name: str, queue: str, gpus: int, *, gated: bool = True, **kw: Any) -> Pod:
    p = pod(name, gpus=gpus, tolerations=GPU)
    gates = (KUEUE_ADMISSION_GATE,) if gated else ()
    return replace(p, labels={KUEUE_QUEUE_LABEL: queue}, scheduling_gates=gates, **kw)


def _split(result: Any) -> tuple[list[str], dict[str, str]]:
    return [p.key for p in result.admitted], {u.pod: u.reason for u in result.held}


def test_without_a_cohort_a_cluster_queue_admits_up_to_its_nominal_quota() -> None:
    queues = [_cq("team-a", gpus="8", reserved_gpus="5")]
    first, second = _waiting("a", "a-queue", 3, priority=10), _waiting("b", "a-queue", 1)

    admitted, held = _split(admit_kueue([second, first], [], [], queues, [_lq("a-queue", "team-a")]))

    assert admitted == ["ns/a"]
    assert held == {
        "ns/b": "Kueue ClusterQueue team-a is at its gpu limit: 8 GPUs in use + 1 requested > limit 8 "
        "(nominalQuota 8, no cohort to borrow from)"
    }


def test_a_cluster_queue_borrows_what_its_cohort_leaves_unused_within_its_borrowing_limit() -> None:
    full = _cq("team-a", gpus="4", cohort="ai", reserved_gpus="4")
    spare = _cq("team-b", gpus="8", cohort="ai", reserved_gpus="2")
    capped = _cq("team-c", gpus="0", cohort="ai", borrowing_limit="2", reserved_gpus="0")
    locals_ = [_lq("a", "team-a"), _lq("c", "team-c")]
    pods = [_waiting("borrow", "a", 4, priority=2), _waiting("more", "a", 4, priority=1), _waiting("c", "c", 3)]

    admitted, held = _split(admit_kueue(pods, [], [], [full, spare, capped], locals_))

    # team-b leaves 6 unused: 4 go to the first pod, the next 4 do not fit in the 2 left.
    assert admitted == ["ns/borrow"]
    assert held["ns/more"] == (
        "Kueue ClusterQueue team-a: Kueue cohort ai is at its gpu limit: 10 GPUs in use + 4 requested > limit 12 "
        "(its ClusterQueues' nominal quotas; quota beyond a lendingLimit counts as used)"
    )
    assert held["ns/c"].startswith(
        "Kueue ClusterQueue team-c is at its gpu limit: 0 GPUs in use + 3 requested > limit 2 "
        "(nominalQuota 0 + borrowingLimit 2)"
    )


def test_a_lending_limit_keeps_the_rest_of_a_queues_quota_from_its_cohort() -> None:
    full = _cq("team-a", gpus="4", cohort="ai", reserved_gpus="4")
    keeps = _cq("team-b", gpus="8", cohort="ai", lending_limit="1", reserved_gpus="0")

    admitted, held = _split(
        admit_kueue([_waiting("one", "a", 1), _waiting("two", "a", 1)], [], [], [full, keeps], [_lq("a", "team-a")])
    )

    assert admitted == ["ns/one"]  # team-b lends 1 GPU of its 8 idle ones, not 2
    assert "Kueue cohort ai is at its gpu limit" in held["ns/two"]


def test_only_gated_pods_are_evaluated_and_one_kueue_cannot_admit_is_held_with_why() -> None:
    queues = [_cq("full", gpus="4", reserved_gpus="4"), _cq("checked", admission_checks=["prov"])]
    locals_ = [_lq("full", "full"), _lq("checked", "checked"), _lq("dangling", "gone")]
    pods = [
        _waiting("admitted", "full", 8, gated=False),  # Kueue already admitted it: its quota is in the reservation
        _waiting("checks", "checked", 1),
        _waiting("nolq", "nowhere", 1),
        _waiting("nocq", "dangling", 1),
        replace(pod("plain", gpus=1, tolerations=GPU), scheduling_gates=(KUEUE_ADMISSION_GATE,)),
    ]

    admitted, held = _split(admit_kueue(pods, [], [], queues, locals_))

    assert admitted == ["ns/admitted"]
    assert held["ns/checks"].startswith("Kueue ClusterQueue checked admits only after its admission checks (prov)")
    assert held["ns/nolq"] == "Kueue LocalQueue ns/nowhere does not exist: Kueue will not admit it"
    assert held["ns/nocq"] == "Kueue LocalQueue ns/dangling points at ClusterQueue gone, which does not exist"
    assert "names no LocalQueue" in held["ns/plain"]


def test_without_a_status_usage_is_the_admitted_pods_requests_and_a_gang_goes_whole() -> None:
    queues = [_cq("team", gpus="8")]
    running = replace(_waiting("running", "q", 5, gated=False), node_name="n1")
    members = [_waiting(f"w{i}", "q", 1) for i in range(4)]
    gang = Gang("kueue:ns/job", 4, tuple(members))

    result = admit_kueue(members, [gang], [running], queues, [_lq("q", "team")])

    assert result.admitted == () and len(result.held) == 4  # 5 + 4 > 8: none of the four, not three
    assert admit_kueue(members[:3], [], [running], queues, [_lq("q", "team")]).held == ()


def test_a_bad_quota_is_refused_with_its_place() -> None:
    bad = cluster_queue("team", gpus="lots")
    with pytest.raises(ManifestError, match=r"ClusterQueue team: .*flavors\[0\]\.resources\[2\] \(nvidia.com/gpu\)"):
        cluster_queue_from_manifest(bad)
