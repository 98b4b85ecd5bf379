"""Scale-down through the real kube adapter: empty and under-utilised nodes we own go after
nodeUnneededDuration; PDBs, do-not-evict pods and nodes we do not own are respected; drains leave DaemonSet and
static pods, retry refused evictions on a doubling backoff and survive API faults."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from luna_autoscaler.models.pod import DO_NOT_DISRUPT, DO_NOT_EVICT, SAFE_TO_EVICT
from tests.kubeapi import Fault
from tests.kubeapi import objects as k
from tests.reconcile.world import World

FIVE_MINUTES = 300


def cordoned(w: World, node: str) -> bool:
    return bool(w.server.get("Node", node)["spec"].get("unschedulable"))


def two_under_utilised_nodes(make_world: Callable[..., World]) -> World:
    """Nodes "a" and "b", ours, each under 20 %: "a" (pod "lonely") is the one to go, onto "b"."""
    w = make_world({"scaleDown.nodeUnneededDuration": "1m"})
    w.add_node("a")
    w.add_node("b")
    w.add_running_pod("lonely", "a", cpu="500m", memory="1Gi", owner=("ReplicaSet", "web"))
    w.add_running_pod("busy-1", "b", cpu="1", memory="2Gi", owner=("ReplicaSet", "web"))
    return w


def node_guarded_by_a_pdb(make_world: Callable[..., World]) -> World:
    """Node "a", ours, whose only pod "guarded" a PodDisruptionBudget (none allowed) protects; "b" is not ours."""
    w = make_world({"scaleDown.nodeUnneededDuration": "1m"})
    w.add_node("a")
    w.add_node("b", owned=False)
    w.add_running_pod("guarded", "a", cpu="500m", memory="1Gi", labels={"app": "db"})
    w.server.create(k.pdb("db", match_labels={"app": "db"}, disruptions_allowed=0))
    return w


def evictions(w: World) -> list[tuple[str | None, int]]:
    """(pod name, HTTP status) of every eviction the server received, in order."""
    return [(r.name, r.status) for r in w.server.requests if r.resource == "pods/eviction"]


def test_empty_node_we_launched_is_removed_after_the_unneeded_duration(make_world) -> None:
    w: World = make_world()
    w.add_pod("job", cpu="500m", memory="1Gi")
    (launched,) = w.cycle().launched
    w.clock.advance(60)
    (node,) = w.join()
    w.schedule()
    w.cycle(advance_seconds=5)
    w.add_node("not-ours", owned=False)  # empty too, but not ours
    w.finish("job")

    first = w.cycle(advance_seconds=60)
    assert first.drains_started == () and w.reconciler.unneeded_since == {node: w.clock()}
    assert w.cycle(advance_seconds=FIVE_MINUTES - 1).drains_started == ()
    report = w.cycle(advance_seconds=1)

    assert [(d.node, d.reason) for d in report.drains_started] == [(node, "empty")]
    assert [(r.node, r.instance_id) for r in report.removed] == [(node, launched.instance_id)]
    assert w.node_names() == {"not-ours"} and not cordoned(w, "not-ours")
    assert w.terminated() == [launched.instance_id]
    assert w.live_instances() == ()


def test_no_scale_down_soon_after_a_scale_up(make_world) -> None:
    w: World = make_world({"scaleDown.nodeUnneededDuration": "10s", "scaleDown.delayAfterScaleUp": "10m"})
    w.add_node("spare")
    w.add_pod("web", cpu="500m", memory="1Gi", labels={"app": "x"})
    w.server.patch("Pod", "web", {"spec": {"nodeSelector": {"app": "nowhere"}}})  # never fits "spare"
    assert len(w.cycle().launched) == 0  # no offering has label app=nowhere either: nothing bought
    w.add_pod("web-2", cpu="500m", memory="1Gi", gpus=1)
    assert len(w.cycle().launched) == 1
    assert w.cycle(advance_seconds=60).drains_started == ()  # "spare" unneeded, but within delayAfterScaleUp
    assert [d.node for d in w.cycle(advance_seconds=9 * 60).drains_started] == ["spare"]


def test_under_utilised_node_is_drained_when_its_pods_fit_elsewhere(make_world) -> None:
    w = two_under_utilised_nodes(make_world)

    assert w.cycle().drains_started == ()  # both are under 20 %, only one can go (the other takes its pods)
    report = w.cycle(advance_seconds=60)

    assert [(d.node, d.reason) for d in report.drains_started] == [("a", "underutilized")]
    assert cordoned(w, "a") and not w.server.exists("Pod", "lonely")  # evicted through the Eviction API
    assert report.removed == ()  # the node goes once its pods are gone
    report = w.cycle(advance_seconds=5)
    assert [r.node for r in report.removed] == ["a"]
    assert w.node_names() == {"b"}
    assert w.terminated() == ["i-a"]


@pytest.mark.parametrize(("bin_kind", "removed"), [("select", True), ("pack", False)])
def test_utilisation_threshold_depends_on_the_bin_kind(make_world, bin_kind: str, removed: bool) -> None:
    w: World = make_world({"scaleDown.nodeUnneededDuration": "1m"})
    w.add_node("mine", bin_kind=bin_kind)
    w.add_node("roomy", owned=False, cpu="16", memory="64Gi")
    w.add_running_pod("half", "mine", cpu="5", memory="4Gi")  # 62 %: under 75 % (select), over 20 % (pack)

    w.cycle()
    report = w.cycle(advance_seconds=60)

    assert [d.node for d in report.drains_started] == (["mine"] if removed else [])


def test_pdb_blocks_the_drain_until_it_allows_a_disruption(make_world) -> None:
    w = node_guarded_by_a_pdb(make_world)

    w.cycle()
    report = w.cycle(advance_seconds=60)

    assert [d.node for d in report.drains_started] == ["a"]
    assert w.server.exists("Pod", "guarded") and cordoned(w, "a")
    (blocked,) = w.events("ScaleDownBlocked")
    assert blocked[0] == "a"
    assert blocked[1].startswith(
        "Node a cannot be removed because pod default/guarded is protected by a PodDisruptionBudget"
    )
    assert w.cycle(advance_seconds=5).removed == ()  # backing off, still blocked
    w.server.patch("PodDisruptionBudget", "db", {"status": {"disruptionsAllowed": 1}})
    w.cycle(advance_seconds=30)
    assert not w.server.exists("Pod", "guarded")
    assert [r.node for r in w.cycle(advance_seconds=5).removed] == ["a"]


@pytest.mark.parametrize(
    ("annotation", "value"), [(DO_NOT_EVICT, "true"), (SAFE_TO_EVICT, "false"), (DO_NOT_DISRUPT, "true")]
)
def test_do_not_evict_pod_keeps_its_node_untouched(make_world, annotation: str, value: str) -> None:
    w: World = make_world({"scaleDown.nodeUnneededDuration": "1m"})
    w.add_node("a")
    w.add_node("b")
    w.add_running_pod("precious", "a", cpu="500m", memory="1Gi", annotations={annotation: value})

    w.cycle()
    report = w.cycle(advance_seconds=120)

    assert [d.node for d in report.drains_started] == ["b"]  # the empty one goes; "a" is never cordoned
    assert not cordoned(w, "a") and w.server.exists("Pod", "precious")
    assert evictions(w) == []
    assert w.events("ScaleDownBlocked") == [
        ("a", f"Node a cannot be removed because pod default/precious has {annotation}={value}")
    ]


def test_daemonset_and_static_pods_are_left_on_the_node_and_never_block_it(make_world) -> None:
    w = two_under_utilised_nodes(make_world)
    # A node agent that asks not to be evicted, and a static pod: neither is the drain's to move or to obey.
    w.add_running_pod("agent-a", "a", owner=("DaemonSet", "agent"), annotations={DO_NOT_EVICT: "true"})
    w.add_running_pod("etcd-a", "a", annotations={"kubernetes.io/config.mirror": "abc"})

    w.cycle()
    report = w.cycle(advance_seconds=60)

    assert [(d.node, d.reason) for d in report.drains_started] == [("a", "underutilized")]
    assert evictions(w) == [("lonely", 201)]
    assert w.server.exists("Pod", "agent-a") and w.server.exists("Pod", "etcd-a")
    assert [r.node for r in w.cycle(advance_seconds=5).removed] == ["a"]
    assert w.events("ScaleDownBlocked") == []


def test_refused_evictions_are_retried_on_a_doubling_backoff(make_world) -> None:
    w = node_guarded_by_a_pdb(make_world)
    w.cycle()
    assert [d.node for d in w.cycle(advance_seconds=60).drains_started] == ["a"]

    tried_at, elapsed = [0], 0  # seconds since the drain started at which an eviction was tried
    for step in (9, 1, 19, 1, 39, 1):
        before = len(evictions(w))
        w.cycle(advance_seconds=step)
        elapsed += step
        if len(evictions(w)) > before:
            tried_at.append(elapsed)

    assert tried_at == [0, 10, 30, 70]  # 10 s, then 20 s, then 40 s
    assert evictions(w) == [("guarded", 429)] * 4
    assert w.server.exists("Pod", "guarded") and cordoned(w, "a")
    (blocked,) = w.events("ScaleDownBlocked")  # reported once, not at every retry
    assert "pod default/guarded is protected by a PodDisruptionBudget" in blocked[1]


def test_an_eviction_the_api_refuses_backs_that_drain_off_without_failing_the_cycle(make_world) -> None:
    w = two_under_utilised_nodes(make_world)
    w.server.inject(Fault(path=r"/pods/lonely/eviction$", status=403, times=1))  # e.g. an admission webhook

    w.cycle()
    with capture_logs() as logs:
        report = w.cycle(advance_seconds=60)

    assert [d.node for d in report.drains_started] == ["a"] and report.removed == ()
    assert w.server.exists("Pod", "lonely") and cordoned(w, "a")
    (retry,) = [e for e in logs if e["event"] == "drain.retry"]
    assert "HTTP 403" in retry["why"] and "default/lonely" in retry["why"] and retry["retry_in_seconds"] == 10.0
    assert w.cycle(advance_seconds=9).removed == ()
    w.cycle(advance_seconds=1)
    assert not w.server.exists("Pod", "lonely")
    assert [r.node for r in w.cycle(advance_seconds=5).removed] == ["a"]


def test_drains_are_bounded_by_max_parallel_drains(make_world) -> None:
    w: World = make_world({"scaleDown.nodeUnneededDuration": "1m", "scaleDown.maxParallelDrains": "2"})
    for name in ("a", "b", "c", "d"):
        w.add_node(name)
        w.add_running_pod(f"p-{name}", name, cpu="100m", memory="128Mi")
    w.server.create(k.pdb("all", match_labels={"elotl-luna": "true"}, disruptions_allowed=0))

    w.cycle()
    report = w.cycle(advance_seconds=60)

    assert len(report.drains_started) == 2  # blocked by the PDB, so they stay in progress
    assert len(w.cycle(advance_seconds=60).drains_started) == 0


def test_a_restarted_daemon_finishes_the_drain_it_had_started(make_world) -> None:
    w = node_guarded_by_a_pdb(make_world)
    w.cycle()
    assert [d.node for d in w.cycle(advance_seconds=60).drains_started] == ["a"]  # cordoned, blocked by the PDB

    restarted = w.new_reconciler()
    w.server.patch("PodDisruptionBudget", "db", {"status": {"disruptionsAllowed": 1}})
    w.cycle(advance_seconds=5, reconciler=restarted)  # resumes the drain it finds marked: evicts

    assert not w.server.exists("Pod", "guarded")
    assert [(r.node, r.reason) for r in w.cycle(advance_seconds=5, reconciler=restarted).removed] == [("a", "resumed")]
