"""Gangs, KAI queues and ProvisioningRequests through the whole loop, against the fake API server with the CRDs
served: a gang gets all its nodes in one cycle or none, a half launch is undone, a queue at its limit gets no
node and an Event saying so, and a ProvisioningRequest is answered as the Cluster Autoscaler answers it."""

from __future__ import annotations

import pytest

from luna_autoscaler.errors import InsufficientCapacity, ProviderError, Transient
from luna_autoscaler.ports import Instance, LaunchRequest
from providers.fake import FakeProvider
from providers.fake.provider import ProviderCall
from tests.kubeapi import Fault
from tests.kubeapi import objects as k
from tests.reconcile.world import World

KAI_GROUP = {"pod-group-name": "train"}


class FailingLaunches:
    """The fake cloud, except that the launches numbered in `failing` (1-based) raise `error` instead."""

    def __init__(self, inner: FakeProvider, failing: set[int] | range, error: ProviderError) -> None:
        self._inner = inner
        self._failing = failing
        self._error = error
        self.count = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def launch(self, request: LaunchRequest) -> Instance:
        self.count += 1
        if self.count in self._failing:
            self._inner.calls.append(ProviderCall("launch", (request,)))
            raise self._error
        return self._inner.launch(request)


def _gang(w: World, size: int, *, gpus: int = 8, min_member: int | None = None, queue: str = "") -> None:
    w.server.create(k.pod_group("train", size if min_member is None else min_member, queue=queue))
    for i in range(size):
        w.add_pod(f"worker-{i}", gpus=gpus, cpu="8", memory="64Gi", annotations=KAI_GROUP)


def test_a_gang_of_four_8_gpu_pods_gets_four_nodes_in_one_zone_in_one_cycle(make_world) -> None:
    w: World = make_world()
    _gang(w, 4)

    report = w.cycle()

    assert len(report.launched) == 4
    assert {n.instance_type for n in report.launched} == {"g5.48xlarge"}
    assert len({n.zone for n in report.launched}) == 1
    assert sorted(p for n in report.launched for p in n.pods) == [f"default/worker-{i}" for i in range(4)]
    assert w.cycle().launched == ()  # in flight: nothing launched twice


def test_a_gang_the_limits_cannot_hold_gets_no_node_at_all(make_world) -> None:
    w: World = make_world({"maxNodes": "3"})
    _gang(w, 4)

    report = w.cycle()

    assert report.launched == () and w.launches() == []
    assert sorted(u.pod for u in report.unplaced) == [f"default/worker-{i}" for i in range(4)]
    events = w.events("NotTriggerScaleUp")
    assert len(events) == 4
    assert all("gang kai:default/train held back by cluster limit maxNodes" in m for _, m in events)


def test_coscheduling_and_volcano_groups_are_gangs_too_and_a_bad_pod_group_is_skipped(make_world) -> None:
    w: World = make_world({"maxNodes": "3"})
    w.server.create(k.pod_group("co", 2, scheduler="coscheduling"))
    w.server.create(k.pod_group("vc", 2, scheduler="volcano"))
    bad = k.pod_group("odd", 2, scheduler="kai")
    bad["spec"]["minMember"] = "two"
    w.server.create(bad)
    for i in range(2):
        w.add_pod(f"co-{i}", gpus=8, cpu="8", memory="64Gi", labels={"scheduling.x-k8s.io/pod-group": "co"})
        w.add_pod(f"vc-{i}", gpus=8, cpu="8", memory="64Gi", annotations={"scheduling.k8s.io/group-name": "vc"})

    report = w.cycle()

    # Three nodes allowed: one gang gets both of its nodes, the other none (never two half gangs).
    groups = sorted(p.split("/")[1][:2] for n in report.launched for p in n.pods)
    assert groups in (["co", "co"], ["vc", "vc"])
    assert len(report.launched) == 2
    assert list(w.cluster.workload_stores.invalid_objects()) == ["podgroups.scheduling.run.ai default/odd"]


def test_a_gang_waits_for_its_missing_members(make_world) -> None:
    w: World = make_world()
    w.server.create(k.pod_group("train", 4))
    for i in range(3):
        w.add_pod(f"worker-{i}", gpus=8, cpu="8", memory="64Gi", annotations=KAI_GROUP)

    report = w.cycle()

    assert report.launched == ()
    assert all("3 pending pods of the 4 that must start together" in u.reason for u in report.unplaced)


def test_an_ice_half_way_through_a_gang_undoes_the_launched_half_and_relaunches_it_whole(make_world) -> None:
    w: World = make_world()
    flaky = FailingLaunches(w.provider, {3}, InsufficientCapacity("no g5.48xlarge capacity", []))
    reconciler = w.new_reconciler(provider=flaky)
    _gang(w, 4)

    report = w.cycle(reconciler=reconciler)

    first_two = [r.launch_id for r in w.launches()[:2]]
    assert len(w.terminated()) == 2  # the half that got instances was terminated at once
    live = w.live_instances()
    assert len(live) == 4 and not {i.launch_id for i in live} & set(first_two)
    assert len({i.zone for i in live}) == 1
    assert len(report.launched) == 4 and report.launch_errors[0].startswith("insufficient-capacity")


def test_a_gang_that_keeps_failing_leaves_no_node_behind(make_world) -> None:
    w: World = make_world()
    flaky = FailingLaunches(w.provider, set(range(3, 1000, 3)), InsufficientCapacity("no capacity", []))
    reconciler = w.new_reconciler(provider=flaky)
    _gang(w, 4)

    report = w.cycle(reconciler=reconciler)

    assert report.launched == ()
    assert w.live_instances() == ()
    assert len(w.terminated()) == 2 * flaky.count // 3


def test_a_gang_whose_launch_keeps_being_retried_is_rolled_back_at_its_deadline(make_world) -> None:
    w: World = make_world({"gangs.launchDeadline": "30s"})
    flaky = FailingLaunches(w.provider, {3, *range(5, 1000)}, Transient("throttled", retry_after_seconds=5))
    reconciler = w.new_reconciler(provider=flaky)
    _gang(w, 4)

    first = w.cycle(reconciler=reconciler)

    assert len(first.launched) == 3 and w.terminated() == []  # three instances, one launch being retried
    w.cycle(advance_seconds=10, reconciler=reconciler)
    assert w.terminated() == []  # still within the deadline
    w.cycle(advance_seconds=25, reconciler=reconciler)
    assert sorted(w.terminated()) == sorted(s.instance_id for s in first.launched)
    assert w.live_instances() == ()


def test_a_kai_queue_at_its_limit_gets_no_node_and_an_event_that_says_so(make_world) -> None:
    w: World = make_world()
    w.server.create(k.kai_queue("research", gpu=(-1, -1, 1)))
    w.server.create(k.kai_queue("team-a", parent="research", gpu=(4, 8, 1)))
    w.add_node("gpu-1", cpu="64", memory="512Gi")
    w.add_running_pod("busy", "gpu-1", labels={"kai.scheduler/queue": "team-a"}, gpus=8)
    w.add_pod("waits", gpus=1, labels={"kai.scheduler/queue": "team-a"})
    w.add_pod("free", gpus=1, labels={"kai.scheduler/queue": "research"})

    report = w.cycle()

    assert [n.pods for n in report.launched] == [("default/free",)]
    (event,) = w.events("NotTriggerScaleUp")
    assert event[0] == "waits"
    assert "KAI queue team-a is at its gpu limit: 8 GPUs in use + 1 requested > limit 8" in event[1]


def test_a_provisioning_request_goes_accepted_then_provisioned(make_world) -> None:
    w: World = make_world()
    w.server.create(k.pod_template("worker", gpus=1))
    w.server.create(k.provisioning_request("train", "worker", 2))

    report = w.cycle()

    assert sum(len(n.pods) for n in report.launched) == 2
    status = w.server.get("ProvisioningRequest", "train")["status"]
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {"Accepted": ("True", "Accepted"), "Provisioned": ("True", "CapacityIsProvisioned")}
    assert w.events("TriggeredScaleUp") == []  # its pods are not real: no Event on them
    assert w.cycle().launched == ()


def test_a_provisioned_request_whose_node_is_lost_before_its_pods_come_is_revoked(make_world) -> None:
    w: World = make_world()
    w.server.create(k.pod_template("worker", gpus=1))
    w.server.create(k.provisioning_request("train", "worker", 1))
    (launch,) = w.cycle().launched

    w.provider.interrupt(launch.instance_id)
    w.cycle(advance_seconds=10)  # the instance is terminated (it never became a node)
    w.cycle(advance_seconds=10)  # and is gone from the cloud's list

    status = w.server.get("ProvisioningRequest", "train")["status"]
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions["CapacityRevoked"] == ("True", "CapacityRevoked")
    assert conditions["Provisioned"] == ("True", "CapacityIsProvisioned")


def test_a_check_capacity_request_is_answered_without_buying_anything(make_world) -> None:
    w: World = make_world()
    w.server.create(k.pod_template("worker", gpus=1))
    w.server.create(k.provisioning_request("probe", "worker", 1, class_name="check-capacity.autoscaling.x-k8s.io"))

    report = w.cycle()

    assert report.launched == ()
    status = w.server.get("ProvisioningRequest", "probe")["status"]
    provisioned = next(c for c in status["conditions"] if c["type"] == "Provisioned")
    assert (provisioned["status"], provisioned["reason"]) == ("False", "CapacityIsNotFound")


def test_a_provisioning_request_without_its_template_fails(make_world) -> None:
    w: World = make_world()
    w.server.create(k.provisioning_request("lost", "missing", 1))

    w.cycle()

    status = w.server.get("ProvisioningRequest", "lost")["status"]
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["status"] == "True" and "PodTemplate default/missing not found" in failed["message"]


def test_without_the_crds_installed_pods_are_still_provisioned(server, make_world) -> None:
    server.inject(Fault(path=r"^/apis/(scheduling|autoscaling)[^/]*/", status=404, times=None))
    server.inject(Fault(path=r"^/api/v1/podtemplates", status=404, times=None))
    w: World = make_world()
    w.add_pod("web", cpu="500m", memory="1Gi", annotations=KAI_GROUP)

    report = w.cycle()

    assert [n.pods for n in report.launched] == [("default/web",)]
    assert w.cluster.problems() == {}


def test_kueue_gated_pods_get_nodes_only_as_far_as_their_cluster_queue_would_admit_them(make_world) -> None:
    w: World = make_world()
    w.server.create(k.cluster_queue("team-a", gpus="8", cohort="ai", reserved_gpus="6"))
    w.server.create(k.cluster_queue("team-b", gpus="4", cohort="ai", lending_limit="1", reserved_gpus="0"))
    w.server.create(k.local_queue("training", "team-a"))
    gate = ["kueue.x-k8s.io/admission"]
    queue = {"kueue.x-k8s.io/queue-name": "training"}
    w.add_pod("fits", gpus=3, labels=queue, scheduling_gates=gate)
    w.add_pod("over", gpus=4, labels=queue, scheduling_gates=gate)

    report = w.cycle()

    assert [n.pods for n in report.launched] == [("default/fits",)]  # 6 + 3 = 9: one of team-b's lendable GPU
    (event,) = w.events("NotTriggerScaleUp")
    assert event[0] == "over"
    assert event[1] == (
        "pod didn't trigger scale-up: Kueue ClusterQueue team-a: Kueue cohort ai is at its gpu limit: 12 GPUs in "
        "use + 4 requested > limit 12 (its ClusterQueues' nominal quotas; quota beyond a lendingLimit counts as used)"
    )


class Crash(BaseException):
    """The process dies (not an error the loop handles)."""


class CrashingTerminate(FailingLaunches):
    """FailingLaunches whose process dies on the terminate numbered `crash_at` (1-based)."""

    def __init__(self, inner: FakeProvider, failing: set[int] | range, error: ProviderError, crash_at: int) -> None:
        super().__init__(inner, failing, error)
        self._crash_at = crash_at
        self.terminates = 0

    def terminate(self, instance_id: str) -> None:
        self.terminates += 1
        if self.terminates == self._crash_at:
            raise Crash()
        self._inner.terminate(instance_id)


def _half_gang(w: World, flaky: FailingLaunches) -> list[str]:
    """A gang of four whose fourth launch keeps being retried: three instances, the gang open."""
    _gang(w, 4)
    first = w.cycle(reconciler=w.new_reconciler(provider=flaky))
    assert len(first.launched) == 3 and w.terminated() == []
    return [s.instance_id for s in first.launched]


def test_a_restart_while_a_gang_waits_for_its_last_launch_undoes_the_half_gang(make_world) -> None:
    w: World = make_world({"gangs.launchDeadline": "30s"})
    flaky = FailingLaunches(w.provider, {3, *range(5, 1000)}, Transient("throttled", retry_after_seconds=5))
    half = _half_gang(w, flaky)

    w.cycle(advance_seconds=10, reconciler=w.new_reconciler(provider=flaky))  # restarted within the deadline

    assert sorted(w.terminated()) == sorted(half)  # the retried launch was lost with the process: undone at once
    assert w.live_instances() == ()


def test_a_restart_in_the_middle_of_a_rollback_finishes_it(make_world) -> None:
    w: World = make_world({"gangs.launchDeadline": "30s"})
    flaky = CrashingTerminate(w.provider, {3, *range(5, 1000)}, Transient("throttled", retry_after_seconds=5), 2)
    reconciler = w.new_reconciler(provider=flaky)
    _gang(w, 4)
    half = [s.instance_id for s in w.cycle(reconciler=reconciler).launched]
    with pytest.raises(Crash):
        w.cycle(advance_seconds=35, reconciler=reconciler)  # the deadline: rolled back, and the process dies
    assert len(w.terminated()) == 1 and len(w.live_instances()) == 2

    w.cycle(reconciler=w.new_reconciler(provider=flaky))

    assert sorted(w.terminated()) == sorted(half)
    assert w.live_instances() == ()


def test_after_a_restart_a_gang_that_ran_and_lost_a_node_is_left_alone(make_world) -> None:
    w: World = make_world()
    _gang(w, 2)
    first = w.cycle()
    assert len(first.launched) == 2
    w.clock.advance(600)
    w.join()
    assert len(w.schedule()) == 2
    w.cycle()
    lost = first.launched[0].instance_id
    w.provider.terminate(lost)  # e.g. a spot reclaim; the other node still runs its pod
    before = len(w.terminated())

    w.cycle(reconciler=w.new_reconciler())

    assert len(w.terminated()) == before
    assert [i.instance_id for i in w.live_instances()] == [first.launched[1].instance_id]


def test_a_gang_that_asks_for_a_placement_group_launches_every_node_into_one(make_world) -> None:
    w: World = make_world()
    w.server.create(k.pod_group("train", 3))
    for i in range(3):
        w.add_pod(
            f"worker-{i}",
            gpus=8,
            cpu="8",
            memory="64Gi",
            annotations={**KAI_GROUP, **({"luna.elotl.co/placement-group": "cluster"} if i == 0 else {})},
        )
    w.server.create(k.pod_group("plain", 2))
    for i in range(2):
        w.add_pod(f"plain-{i}", gpus=8, cpu="8", memory="64Gi", annotations={"pod-group-name": "plain"})

    report = w.cycle()

    assert len(report.launched) == 5
    groups = {r.launch_id: r.placement_group for r in w.launches()}
    train = {groups[n.launch_id] for n in report.launched if n.pods[0].startswith("default/worker")}
    plain = {groups[n.launch_id] for n in report.launched if n.pods[0].startswith("default/plain")}
    assert len(train) == 1 and train.pop().startswith("luna-launch-") and plain == {""}


def test_a_dry_run_started_next_to_a_half_gang_terminates_nothing(make_world) -> None:
    w: World = make_world({"gangs.launchDeadline": "30s"})
    flaky = FailingLaunches(w.provider, {3, *range(5, 1000)}, Transient("throttled", retry_after_seconds=5))
    _half_gang(w, flaky)

    w.cycle(advance_seconds=10, reconciler=w.new_reconciler(provider=flaky, dry_run=True))

    assert w.terminated() == [] and len(w.live_instances()) == 3
