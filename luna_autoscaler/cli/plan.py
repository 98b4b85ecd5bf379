"""`luna-autoscaler plan`: what would the autoscaler buy for these pods, and what would it cost?

An offline what-if over manifests a team already has, on the bundled catalog: no cluster, no cloud account.
The JSON output is a stable contract (docs/plan-json.md); the table is for people. Bad input exits non-zero
with a message naming the file, object and field, and prints nothing that looks like a plan.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from luna_autoscaler.cli.inputs import expand_pods, read_documents
from luna_autoscaler.config import Config, config_from_file
from luna_autoscaler.errors import ConfigError, ManifestError
from luna_autoscaler.models.catalog import Catalog
from luna_autoscaler.models.manifest import daemonset_from_manifest, node_from_manifest, pod_from_manifest
from luna_autoscaler.models.mig import mig_parted_config
from luna_autoscaler.models.pod import IGNORE, DaemonSet, Node, Pod
from luna_autoscaler.models.quantity import format_cpu, format_memory
from luna_autoscaler.models.resources import ZERO, Resources
from luna_autoscaler.models.workloads import POD_GROUP_API_VERSIONS, PodGroup, gangs, pod_group_from_manifest
from luna_autoscaler.planner.gangs import GangSpec, plan_gangs
from luna_autoscaler.planner.types import CapacityNode, Plan, PlanRequest, Unplaced
from pricing.catalog import default_region, load_catalog

CLOUDS = ("aws", "gcp", "azure", "oci")
SCHEMA = "luna-autoscaler/plan/v1"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "plan",
        help="plan nodes for pod manifests on the bundled catalog (no cluster needed)",
        description="Plan the cheapest nodes for the given pods and print the plan.",
    )
    p.add_argument(
        "--pods",
        action="append",
        required=True,
        metavar="FILE",
        help="pod or workload manifests (YAML/JSON, - for stdin); repeatable",
    )
    p.add_argument("--nodes", action="append", default=[], metavar="FILE", help="existing Node manifests; repeatable")
    p.add_argument(
        "--config", metavar="FILE", help="configuration: a mapping of ConfigMap keys or a ConfigMap manifest"
    )
    p.add_argument("--cloud", default="aws", choices=(*CLOUDS, "all"), help="cloud to plan on; 'all' compares the four")
    p.add_argument(
        "--region", help="region (default per cloud: " + ", ".join(f"{c} {default_region(c)}" for c in CLOUDS) + ")"
    )
    p.add_argument("--output", "-o", default="table", choices=("table", "json"))
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Workload:
    pending: tuple[Pod, ...]
    ignored: tuple[Unplaced, ...]
    nodes: tuple[CapacityNode, ...]
    daemonsets: tuple[DaemonSet, ...]
    gangs: tuple[GangSpec, ...] = ()  # pod groups among the pending pods, each planned whole


def load_workload(pod_files: Sequence[str], node_files: Sequence[str]) -> Workload:
    pods: list[Pod] = []
    daemonsets: list[DaemonSet] = []
    pod_groups: list[PodGroup] = []
    for path in pod_files:
        for doc in read_documents(path):
            if doc["kind"] == "DaemonSet":
                daemonsets.append(daemonset_from_manifest(doc))
            if doc["kind"] == "PodGroup" and doc.get("apiVersion") in POD_GROUP_API_VERSIONS:
                pod_groups.append(pod_group_from_manifest(doc))
            for manifest in expand_pods(doc, path):
                pods.append(pod_from_manifest(manifest))
    nodes = [node_from_manifest(doc) for path in node_files for doc in read_documents(path) if doc["kind"] == "Node"]
    if not pods:
        raise ManifestError(f"{', '.join(pod_files)}: no pods or workloads found")
    seen: set[str] = set()
    for pod in pods:
        if pod.key in seen:
            raise ManifestError(f"pod {pod.key} appears twice")
        seen.add(pod.key)
    node_names = {n.name for n in nodes}
    bound = [p for p in pods if p.node_name]
    for p in bound:
        if p.node_name not in node_names:
            raise ManifestError(f"pod {p.key} is bound to node {p.node_name!r}, which no --nodes file defines")
    pending = tuple(p for p in pods if not p.node_name and not p.terminal and p.annotations.get(IGNORE) != "true")
    ignored = tuple(Unplaced(p.key, f"{IGNORE}=true") for p in pods if p.annotations.get(IGNORE) == "true")
    found = gangs(pods, pending, pod_groups)
    specs = tuple(GangSpec.of(g) for g in found)
    return Workload(pending, ignored, tuple(_capacity(n, bound) for n in nodes), tuple(daemonsets), specs)


def _capacity(node: Node, bound: Sequence[Pod]) -> CapacityNode:
    used = ZERO
    for p in bound:
        if p.node_name == node.name and not p.terminal:
            used = used + p.requests
    return CapacityNode(
        name=node.name,
        labels=node.labels,
        taints=node.taints,
        free=node.allocatable - used,
        gpu_sku=node.labels.get("node.elotl.co/gpu-sku"),
    )


def plan_on(catalog: Catalog, workload: Workload, config: Config) -> Plan:
    request = PlanRequest(
        pods=workload.pending, catalog=catalog, config=config, nodes=workload.nodes, daemonsets=workload.daemonsets
    )
    return plan_gangs(request, workload.gangs if config.gangs.enabled else ()).plan


def plan_document(catalog: Catalog, result: Plan, ignored: Sequence[Unplaced]) -> dict[str, Any]:
    """The JSON contract of docs/plan-json.md for one cloud."""
    return {
        "schema": SCHEMA,
        "cloud": catalog.cloud,
        "region": catalog.region,
        "nodes": [
            {
                "name": n.name,
                "cloud": catalog.cloud,
                "instance_type": n.offering.instance_type.name,
                "capacity_type": n.offering.capacity_type.value,
                "region": n.offering.region,
                "zone": n.offering.zone,
                "price_usd_per_hour": n.price_usd_per_hour,
                "price_estimated": n.offering.price_estimated,
                "gpu_sku": n.offering.instance_type.gpu_sku,
                "gpu_mode": n.gpu_mode.sharing.value,
                "mig_config": n.gpu_mode.mig.name if n.gpu_mode.mig else None,
                "bin": n.bin.value,
                "allocatable": n.allocatable.as_quantities(),
                "pods": list(n.pods),
            }
            for n in result.new_nodes
        ],
        "existing": [{"pod": pod, "node": node} for pod, node in sorted(result.on_existing.items())],
        "unplaced": [
            {"pod": u.pod, "reason": u.reason, "rejections": dict(u.rejections)} for u in (*result.unplaced, *ignored)
        ],
        "total_price_usd_per_hour": result.total_price_usd_per_hour,
        "catalog": {"source": catalog.provenance.source, "as_of": catalog.provenance.as_of.isoformat()},
        # The MIG manager configuration of the custom layouts the plan uses (docs/gpus.md); empty when none.
        "mig_parted_config": mig_parted_config(n.gpu_mode.mig for n in result.new_nodes if n.gpu_mode.mig),
    }


def _resources(r: Resources) -> str:
    parts = [format_cpu(r.cpu_millis) + " cpu", format_memory(r.memory_bytes)]
    parts += [f"{v} {k.rsplit('/', 1)[-1]}" for k, v in r.gpu_resources().items()]
    return ", ".join(parts)


def render_table(doc: Mapping[str, Any], result: Plan) -> str:
    lines = [f"Plan on {doc['cloud']} {doc['region']} (catalog: {doc['catalog']['source']}, {doc['catalog']['as_of']})"]
    if result.new_nodes:
        header = ("NODE", "INSTANCE TYPE", "CAPACITY", "ZONE", "$/H", "GPU", "ALLOCATABLE", "PODS")
        rows = [
            (
                n.name,
                n.offering.instance_type.name,
                n.offering.capacity_type.value + ("*" if n.offering.price_estimated else ""),
                n.offering.zone,
                f"{n.price_usd_per_hour:.4f}",
                f"{n.offering.instance_type.gpus}x{n.offering.instance_type.gpu_sku}"
                if n.offering.instance_type.gpu_sku
                else "-",
                _resources(n.allocatable),
                _pod_list(n.pods),
            )
            for n in result.new_nodes
        ]
        widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
        for r in (header, *rows):
            lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if any(n.offering.price_estimated for n in result.new_nodes):
            lines.append("* spot price estimated from spotPriceRatioEstimate (no observed spot price in the catalog)")
    else:
        lines.append("No new nodes needed.")
    if result.on_existing:
        lines.append(f"{len(result.on_existing)} pods fit on existing or in-flight nodes.")
    unplaced = doc["unplaced"]
    if unplaced:
        lines.append(f"Unplaced pods ({len(unplaced)}):")
        lines += [f"  {u['pod']}: {u['reason']}" for u in unplaced]
    lines.append(f"Total: {len(result.new_nodes)} nodes, ${doc['total_price_usd_per_hour']:.4f}/h")
    return "\n".join(lines)


def _comparison_line(doc: Mapping[str, Any]) -> str:
    price = doc["total_price_usd_per_hour"]
    return (
        f"  {doc['cloud']:<6} {doc['region']:<16} {len(doc['nodes']):>4} nodes  ${price:>10.4f}/h"
        f"  {len(doc['unplaced'])} unplaced"
    )


def _pod_list(pods: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(pods[:limit])
    return shown + (f" (+{len(pods) - limit} more)" if len(pods) > limit else "")


def run(args: argparse.Namespace) -> int:
    config = config_from_file(args.config) if args.config else Config()
    if args.cloud == "all" and args.region:
        raise ConfigError("--region cannot be combined with --cloud all (each cloud uses its default region)")
    workload = load_workload(args.pods, args.nodes)
    clouds = CLOUDS if args.cloud == "all" else (args.cloud,)
    results = []
    for cloud in clouds:
        catalog = load_catalog(cloud, args.region)
        results.append((catalog, plan_on(catalog, workload, config)))
    docs = [plan_document(c, r, workload.ignored) for c, r in results]
    if args.output == "json":
        if len(docs) == 1:
            out: dict[str, Any] = docs[0]
        else:
            cheapest = min(docs, key=lambda d: (len(d["unplaced"]), d["total_price_usd_per_hour"]))
            out = {"schema": SCHEMA + "/compare", "plans": docs, "cheapest": cheapest["cloud"]}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        tables = [render_table(d, r) for d, (_, r) in zip(docs, results, strict=True)]
        if len(docs) > 1:
            tables.append("\n".join(["Comparison:", *(_comparison_line(d) for d in docs)]))
        sys.stdout.write("\n\n".join(tables) + "\n")
    return 0
