"""The tests' fake API server on its own, to watch the whole loop locally without a cluster (docs/quickstart.md):

    .venv/bin/python -m tests.kubeapi --kubeconfig /tmp/luna-local/kubeconfig

It writes a kubeconfig pointing at itself, says so on stdout and serves until interrupted. There is no
scheduler and no kubelet: `run --provider fake` with `fake.registerNodes` registers the nodes, and
`--bind` plays kube-scheduler every second (the simulation's scheduling rules): a pending pod that fits a node is
bound to it, one that fits none is marked unschedulable, which is what the autoscaler acts on.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from luna_autoscaler.models.manifest import node_from_manifest, pod_from_manifest
from luna_autoscaler.models.resources import ZERO
from luna_autoscaler.simulation.scheduler import Scoring, choose_node
from tests.kubeapi.server import FakeApiServer

BIND_INTERVAL_SECONDS = 1.0


def bind_pending(server: FakeApiServer) -> None:
    """kube-scheduler, roughly: bind every pending pod that fits a Ready node, mark the others unschedulable."""
    nodes = [node_from_manifest(n) for n in server.list("Node")]
    pods = [pod_from_manifest(p) for p in server.list("Pod")]
    used = {n.name: ZERO for n in nodes}
    for p in pods:
        if p.node_name in used and not p.terminal:
            used[p.node_name] = used[p.node_name] + p.requests
    for pod in sorted((p for p in pods if not p.node_name and not p.scheduling_gates), key=lambda p: p.key):
        node = choose_node(pod, ((n, used[n.name]) for n in nodes), Scoring.LEAST_ALLOCATED)
        if node is None:
            if not pod.unschedulable:
                unschedulable = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
                server.patch("Pod", pod.name, {"status": {"conditions": [unschedulable]}}, namespace=pod.namespace)
            continue
        used[node.name] = used[node.name] + pod.requests
        server.patch(
            "Pod",
            pod.name,
            {"spec": {"nodeName": node.name}, "status": {"phase": "Running", "conditions": []}},
            namespace=pod.namespace,
        )
        print(f"bound {pod.key} to {node.name}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True, type=Path, help="where to write a kubeconfig for it")
    parser.add_argument("--bind", action="store_true", help="bind pending pods that fit a node, every second")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    args.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    with FakeApiServer() as server:
        server.write_kubeconfig(args.kubeconfig)
        print(f"fake API server at {server.url}; kubeconfig: {args.kubeconfig}", flush=True)
        while not stop.wait(BIND_INTERVAL_SECONDS):
            if args.bind:
                bind_pending(server)


if __name__ == "__main__":
    main()
