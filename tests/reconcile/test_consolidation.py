"""Consolidation (scaleDown.consolidation, off by default): a node replaced by a cheaper one holding its pods,
the old one drained only once the replacement is up."""

from __future__ import annotations

from tests.reconcile.world import World


def oversized(w: World) -> None:
    """One of our m5.2xlarge nodes ($0.384/h) holding a single small pod: 6 % used, but nowhere else to go."""
    w.add_node("big")
    w.add_running_pod("web", "big", cpu="500m", memory="1Gi", owner=("ReplicaSet", "web"))


def test_off_by_default_the_node_stays(make_world) -> None:
    w: World = make_world()
    oversized(w)
    for _ in range(3):
        assert w.cycle(advance_seconds=600).launched == ()
    assert w.launches() == [] and w.node_names() == {"big"}


def test_a_cheaper_replacement_is_launched_first_then_the_node_drained(make_world) -> None:
    w: World = make_world({"scaleDown.consolidation": "true", "scaleDown.nodeUnneededDuration": "1m"})
    oversized(w)

    w.cycle(advance_seconds=120)
    (replacement,) = w.launches()
    assert replacement.offerings[0].price_usd_per_hour < 0.384 * 0.9
    assert not w.server.get("Node", "big")["spec"].get("unschedulable")  # nothing moves before the new node is up
    assert w.cycle(advance_seconds=30).drains_started == ()

    w.clock.advance(30)
    (new,) = w.join()
    report = w.cycle(advance_seconds=5)

    assert [(d.node, d.reason) for d in report.drains_started] == [("big", "consolidated")]
    assert not w.server.exists("Pod", "web")  # evicted; its ReplicaSet would recreate it on the new node
    assert [r.node for r in w.cycle(advance_seconds=5).removed] == ["big"]
    assert w.node_names() == {new} and len(w.launches()) == 1


def test_a_failed_replacement_leaves_the_node_alone(make_world) -> None:
    w: World = make_world(
        {"scaleDown.consolidation": "true", "scaleDown.nodeUnneededDuration": "1m", "registrationTimeout": "5m"},
        join_delay_seconds=3600,
    )
    oversized(w)
    w.cycle(advance_seconds=120)
    assert len(w.launches()) == 1

    report = w.cycle(advance_seconds=301)  # the replacement never registers: terminated, consolidation abandoned

    assert [r.reason for r in report.removed] == ["registration-timeout"]
    assert report.drains_started == ()
    assert w.cycle(advance_seconds=60).drains_started == ()
    assert w.node_names() == {"big"} and not w.server.get("Node", "big")["spec"].get("unschedulable")
