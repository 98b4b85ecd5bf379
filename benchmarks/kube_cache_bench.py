"""Memory and sync time of the Kubernetes cluster cache with 20,000 pods and 2,000 nodes (target: ≤ 300 MB RSS).

The fake API server runs in a child process (this script with --serve), so the RSS measured here is the daemon's
side only: the official client, the reflectors and the cache of domain objects. Pods are realistic in size
(owner references, env, volumes, container statuses, managedFields: ~4 KB of JSON each, as kubectl get -o json
shows on a real cluster). It also compares, on one page of pods, the two ways to read API JSON (see
docs/design/kube-adapter.md): raw json.loads (what the adapter does) versus the client's pydantic models.

    .venv/bin/python benchmarks/kube_cache_bench.py [--pods 20000] [--nodes 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def realistic_pod(i: int, nodes: int) -> dict[str, Any]:
    from tests.kubeapi.objects import pod

    app = f"app-{i % 400}"
    bound = i % 10 != 0  # 10% pending
    manifest = pod(
        f"{app}-{i:06d}",
        f"ns-{i % 50}",
        cpu="250m",
        memory="512Mi",
        gpus=1 if i % 20 == 0 else 0,
        labels={"app": app, "pod-template-hash": f"{i % 9999:04x}", "team": f"team-{i % 13}", "elotl-luna": "true"},
        annotations={"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z", "prometheus.io/scrape": "true"},
        node_name=f"node-{i % nodes:05d}" if bound else None,
        unschedulable=not bound,
        owner=("ReplicaSet", f"{app}-rs"),
        containers=2,
    )
    for c in manifest["spec"]["containers"]:
        c["env"] = [{"name": f"VAR_{k}", "value": f"value-{k}-{i}"} for k in range(6)]
        c["volumeMounts"] = [{"name": "data", "mountPath": "/data"}, {"name": "token", "mountPath": "/var/run/sa"}]
        c["ports"] = [{"containerPort": 8080, "protocol": "TCP"}]
        c["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10}
    manifest["spec"]["volumes"] = [
        {"name": "data", "emptyDir": {}},
        {
            "name": "token",
            "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]},
        },
    ]
    manifest["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}
                ]
            }
        }
    }
    if bound:
        manifest["status"]["containerStatuses"] = [
            {
                "name": c["name"],
                "ready": True,
                "restartCount": 0,
                "image": c["image"],
                "imageID": "registry.example.com/app@sha256:" + "0" * 64,
                "containerID": f"containerd://{i:064d}",
                "started": True,
                "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}},
            }
            for c in manifest["spec"]["containers"]
        ]
        manifest["status"]["podIP"] = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
    manifest["metadata"]["managedFields"] = [
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2025-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {f"f:{k}": {} for k in manifest["metadata"]["labels"]}},
                "f:spec": {
                    "f:containers": {f'k:{{"name":"c{k}"}}': {".": {}, "f:env": {}, "f:image": {}} for k in range(2)}
                },
            },
        },
    ]
    return manifest


def realistic_node(i: int) -> dict[str, Any]:
    from tests.kubeapi.objects import node

    gpu = i % 10 == 0
    return node(
        f"node-{i:05d}",
        cpu="32",
        memory="128Gi",
        gpus=4 if gpu else 0,
        labels={
            "node.kubernetes.io/instance-type": "g5.12xlarge" if gpu else "m6i.8xlarge",
            "topology.kubernetes.io/zone": f"us-east-1{'abc'[i % 3]}",
            "kubernetes.io/arch": "amd64",
            "karpenter.sh/capacity-type": "spot" if i % 2 else "on-demand",
        },
        taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}] if gpu else [],
        provider_id=f"aws:///us-east-1a/i-{i:017x}",
    )


def serve(pods: int, nodes: int) -> None:
    """Child process: the fake API server loaded with the cluster, until stdin closes."""
    from tests.kubeapi import FakeApiServer
    from tests.kubeapi.objects import daemonset, pdb

    with FakeApiServer(history=1000) as api:
        api.load(realistic_node(i) for i in range(nodes))
        api.load(realistic_pod(i, nodes) for i in range(pods))
        for i in range(20):
            api.create(daemonset(f"agent-{i}"))
        for i in range(400):
            api.create(pdb(f"app-{i}", f"ns-{i % 50}", match_labels={"app": f"app-{i}"}, disruptions_allowed=1))
        size = len(json.dumps(realistic_pod(1, nodes)))
        print(json.dumps({"url": api.url, "pod_json_bytes": size}), flush=True)
        sys.stdin.read()


def compare_decoding(url: str, count: int) -> dict[str, float]:
    """One page of `count` pods: raw JSON vs the client's pydantic models (time and allocated memory)."""
    from kubernetes import client as k8s

    config = k8s.Configuration(host=url)
    api_client = k8s.ApiClient(config)
    core = k8s.CoreV1Api(api_client)
    data = core.list_pod_for_all_namespaces(limit=count, _preload_content=False).data
    out: dict[str, float] = {}
    from luna_autoscaler.kube.rest import parse_json

    for name, decode in (
        ("raw_json", lambda: json.loads(data)),
        ("raw_json_gc_paused", lambda: parse_json(data)),
        ("models", lambda: api_client.deserialize(data.decode(), "V1PodList", "application/json")),
        (
            "models_then_dicts",
            lambda: api_client.sanitize_for_serialization(
                api_client.deserialize(data.decode(), "V1PodList", "application/json")
            ),
        ),
    ):
        decode()  # warm up (model validators are built lazily)
        started = time.perf_counter()
        decode()
        out[f"{name}_seconds"] = time.perf_counter() - started
        tracemalloc.start()  # memory in a second run: tracing slows allocation down too much to time it
        kept = decode()
        out[f"{name}_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        del kept
    api_client.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=20_000)
    parser.add_argument("--nodes", type=int, default=2_000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.pods, args.nodes)
        return

    import structlog

    from luna_autoscaler.kube import KubeCluster, KubeSettings, WatchSettings, connect

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # warnings and up
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--pods", str(args.pods), "--nodes", str(args.nodes)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        started = time.perf_counter()
        ready = json.loads(child.stdout.readline())
        print(
            f"fake API server loaded with {args.pods} pods, {args.nodes} nodes in "
            f"{time.perf_counter() - started:.1f} s (child process); one pod is {ready['pod_json_bytes']} B of JSON"
        )
        with tempfile.TemporaryDirectory() as tmp:
            kubeconfig = Path(tmp) / "kubeconfig"
            kubeconfig.write_text(
                json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "Config",
                        "current-context": "bench",
                        "clusters": [{"name": "bench", "cluster": {"server": ready["url"]}}],
                        "users": [{"name": "bench", "user": {"token": "x"}}],
                        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
                    }
                )
            )
            client = connect(str(kubeconfig))
        cluster = KubeCluster(client, KubeSettings(watch=WatchSettings(page_size=500)))
        baseline = _rss_mb()
        started, cpu_started = time.perf_counter(), time.process_time()
        cluster.start()
        if not cluster.wait_for_sync(600):
            raise SystemExit(f"cache did not sync: {cluster.problems()}")
        sync_seconds, sync_cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        snap_started = time.perf_counter()
        snap = cluster.snapshot()
        snapshot_ms = (time.perf_counter() - snap_started) * 1000
        rss, peak = _rss_mb(), _rss_mb("VmHWM")
        print(
            f"list + sync: {sync_seconds:.2f} s wall, {sync_cpu_seconds:.2f} s CPU in this process "
            f"({len(snap.pods)} pods, {len(snap.nodes)} nodes, "
            f"{len(snap.daemonsets)} DaemonSets, {len(snap.pdbs)} PDBs; pages of 500)"
        )
        print(
            f"first snapshot: {snapshot_ms:.1f} ms; pending-unschedulable pods: "
            f"{sum(p.unschedulable for p in snap.pods)}"
        )
        print(
            f"RSS: {rss:.0f} MB after sync (peak {peak:.0f} MB; {baseline:.0f} MB before the cache started: "
            f"interpreter + kubernetes client); target <= 300 MB"
        )
        cluster.stop()
        decoding = compare_decoding(ready["url"], 500)
        print(
            "one page of 500 pods: "
            f"json.loads {decoding['raw_json_seconds'] * 1000:.0f} ms / {decoding['raw_json_peak_mb']:.1f} MB "
            f"({decoding['raw_json_gc_paused_seconds'] * 1000:.0f} ms with the GC paused, as the adapter does); "
            f"pydantic models {decoding['models_seconds'] * 1000:.0f} ms / {decoding['models_peak_mb']:.1f} MB; "
            f"models + sanitize_for_serialization {decoding['models_then_dicts_seconds'] * 1000:.0f} ms / "
            f"{decoding['models_then_dicts_peak_mb']:.1f} MB"
        )
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=30)
    print(f"pid {os.getpid()} done")


if __name__ == "__main__":
    main()
