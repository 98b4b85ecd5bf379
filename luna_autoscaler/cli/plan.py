"""`luna-autoscaler plan`: what would the autoscaler buy for these pods, and what would it cost?

An offline what-if over manifests a team already has, on the bundled catalog: no cluster, no cloud account.
The JSON output is a stable contract (docs/plan-json.md); the table is for people. Bad input exits non-zero
with a message naming the file, object and field, and prints nothing that looks like a plan.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from luna_autoscaler.cli.inputs import MAX_PODS, pod_manifests, produces_pods, read_documents, source_name
from luna_autoscaler.cli.text import counted
from luna_autoscaler.config import Config, config_from_file
from luna_autoscaler.errors import ConfigError, ManifestError
from luna_autoscaler.models.catalog import CapacityType, Catalog
from luna_autoscaler.models.constraints import OFFERINGS as OFFERINGS_ANNOTATION
from luna_autoscaler.models.manifest import (
    daemonset_from_manifest,
    node_from_manifest,
    object_name,
    pod_from_manifest,
)
from luna_autoscaler.models.mig import mig_parted_config
from luna_autoscaler.models.pod import IGNORE, DaemonSet, Node, Pod
from luna_autoscaler.models.quantity import format_cpu, format_memory
from luna_autoscaler.models.resources import ZERO, Resources
from luna_autoscaler.models.selection import PodSelector, why_not_selected
from luna_autoscaler.models.workloads import POD_GROUP_API_VERSIONS, PodGroup, gangs, group_of, pod_group_from_manifest
from luna_autoscaler.planner.compatibility import capacity_type_rejection
from luna_autoscaler.planner.gangs import GangSpec, plan_gangs
from luna_autoscaler.planner.types import CapacityNode, Plan, PlanRequest
from pricing.catalog import default_region, load_catalog

T = TypeVar("T")

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
    p.add_argument(
        "--all-pods",
        action="store_true",
        help="plan every pod in the files, not only those the daemon would handle (config labels/podAnnotations)",
    )
    p.add_argument("--output", "-o", default="table", choices=("table", "json"))
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Workload:
    pending: tuple[Pod, ...]
    skipped: tuple[Skipped, ...]  # pods the daemon would not handle, with why
    nodes: tuple[CapacityNode, ...]
    daemonsets: tuple[DaemonSet, ...]
    ignored_kinds: Mapping[str, int]  # objects that are neither pods, workloads, DaemonSets nor Nodes, by kind
    gangs: tuple[GangSpec, ...] = ()  # pod groups among the pending pods, each planned whole


@dataclass(frozen=True, slots=True)
class Skipped:
    pod: str
    reason: str


def load_workload(pod_files: Sequence[str], node_files: Sequence[str], selector: PodSelector | None = None) -> Workload:
    """The pods to plan for, as the daemon would select them (`selector`: the configuration; None: every pod)."""
    pods: list[Pod] = []
    daemonsets: list[DaemonSet] = []
    pod_groups: list[PodGroup] = []
    ignored: Counter[str] = Counter()
    total = 0
    for path in pod_files:
        for doc in read_documents(path):
            kind = doc["kind"]
            if kind == "DaemonSet":
                daemonsets.append(_located(path, daemonset_from_manifest, doc))
            elif kind == "PodGroup" and doc.get("apiVersion") in POD_GROUP_API_VERSIONS:
                pod_groups.append(_located(path, pod_group_from_manifest, doc))
            elif not produces_pods(kind):
                ignored[kind] += 1
            for manifest, replicas in pod_manifests(doc, source_name(path)):
                pods += _gang_members(_located(path, functools.partial(pod_from_manifest, replicas=replicas), manifest))
                total += pods[-1].count
                if total > MAX_PODS:
                    raise ManifestError(
                        f"{', '.join(map(source_name, pod_files))}: more than {MAX_PODS} pods, more than plan reads"
                    )
    nodes: list[Node] = []
    for path in node_files:
        for doc in read_documents(path):
            if doc["kind"] == "Node":
                nodes.append(_located(path, node_from_manifest, doc))
            elif produces_pods(doc["kind"]):
                raise ManifestError(
                    f"{source_name(path)}: {object_name(doc)} is not a Node: --nodes takes Node objects (kubectl get "
                    "nodes -o yaml); pods go in --pods"
                )
            else:
                ignored[doc["kind"]] += 1
    if not pods:
        raise ManifestError(f"{', '.join(map(source_name, pod_files))}: no pods or workloads found")
    _check_unique(pods)
    node_names = {n.name for n in nodes}
    bound = [p for p in pods if p.node_name]
    for p in bound:
        if p.node_name not in node_names:
            raise ManifestError(f"pod {p.key} is bound to node {p.node_name!r}, which no --nodes file defines")
    pending: list[Pod] = []
    skipped: list[Skipped] = []
    for p in pods:
        if p.node_name or p.terminal:
            continue
        why = _why_skipped(p, selector)
        if why:
            skipped += [Skipped(p.member_key(i), why) for i in range(p.count)]
        else:
            pending.append(p)
    specs = tuple(GangSpec.of(g) for g in gangs(pods, tuple(pending), pod_groups))
    return Workload(
        tuple(pending),
        tuple(skipped),
        tuple(_capacity(n, bound) for n in nodes),
        tuple(daemonsets),
        dict(ignored),
        specs,
    )


def _gang_members(pod: Pod) -> list[Pod]:
    """A gang's replicas one by one (a gang counts and places members; gangs are small), other replicas as one."""
    if pod.replicas is None or group_of(pod) is None:
        return [pod]
    return [dataclasses.replace(pod, name=f"{pod.name}-{i}", replicas=None) for i in range(pod.count)]


def _why_skipped(pod: Pod, selector: PodSelector | None) -> str:
    if selector is None:  # --all-pods: only what no daemon may ever touch
        return f"{IGNORE}=true" if pod.annotations.get(IGNORE, "").lower() == "true" else ""
    return why_not_selected(pod, selector.labels, selector.pod_annotations)


def _located(path: str, read: Callable[[Mapping[str, Any]], T], doc: Mapping[str, Any]) -> T:
    """`read(doc)`, with the file named in front of its error (`pods.yaml: Pod default/x: ... cpu: '2x' ...`)."""
    try:
        return read(doc)
    except ManifestError as e:
        raise ManifestError(f"{source_name(path)}: {e}") from e


def _check_unique(pods: Sequence[Pod]) -> None:
    """No pod twice, without listing a workload's replicas: a pod `web-3` clashes with a workload `web` of 4."""
    workloads: dict[str, int] = {}
    singles: set[str] = set()
    for pod in pods:
        if pod.replicas is None:
            if pod.key in singles:
                raise ManifestError(f"pod {pod.key} appears twice")
            singles.add(pod.key)
        elif pod.key in workloads:
            raise ManifestError(f"workload {pod.key} appears twice")
        else:
            workloads[pod.key] = pod.count
    for key in singles:
        prefix, _, index = key.rpartition("-")
        if index.isdigit() and str(int(index)) == index and int(index) < workloads.get(prefix, 0):
            raise ManifestError(f"pod {key} appears twice")


def _capacity(node: Node, bound: Sequence[Pod]) -> CapacityNode:
    used = ZERO
    for p in bound:
        if p.node_name == node.name and not p.terminal:
            used = used + p.requests * p.count
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


def plan_document(catalog: Catalog, result: Plan, skipped: Sequence[Skipped]) -> dict[str, Any]:
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
        "unplaced": [{"pod": u.pod, "reason": u.reason, "rejections": dict(u.rejections)} for u in result.unplaced],
        "skipped": [{"pod": s.pod, "reason": s.reason} for s in skipped],
        "total_price_usd_per_hour": result.total_price_usd_per_hour,
        "catalog": {"source": catalog.provenance.source, "as_of": catalog.provenance.as_of.isoformat()},
        # The MIG manager configuration of the custom layouts the plan uses (docs/gpus.md); empty when none.
        "mig_parted_config": mig_parted_config(n.gpu_mode.mig for n in result.new_nodes if n.gpu_mode.mig),
    }


def _resources(r: Resources) -> str:
    parts = [format_cpu(r.cpu_millis) + " cpu", format_memory(r.memory_bytes)]
    parts += [f"{v} {k.rsplit('/', 1)[-1]}" for k, v in r.gpu_resources().items()]
    return ", ".join(parts)


SPOT_ONLY = capacity_type_rejection(CapacityType.SPOT, (CapacityType.ON_DEMAND,))


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
    elif result.unplaced:
        lines.append("No new nodes: no offering can take the pods below.")
    else:
        lines.append("No new nodes needed.")
    if result.on_existing:
        lines.append(f"{counted(len(result.on_existing), 'pod')} fit on existing or in-flight nodes.")
    unplaced = doc["unplaced"]
    if unplaced:
        lines.append(f"Unplaced pods ({len(unplaced)}):")
        lines += [f"  {u['pod']}: {u['reason']}" for u in unplaced]
        on_spot = sum(1 for u in result.unplaced if u.rejections.get(SPOT_ONLY))
        if on_spot:
            lines.append(
                f"  {counted(on_spot, 'pod')} would fit on spot; set defaultOfferings (e.g. spot,on-demand) or the "
                f"pod's {OFFERINGS_ANNOTATION} annotation"
            )
    skipped = doc["skipped"]
    if skipped:
        why = Counter(s["reason"] for s in skipped)
        lines.append(f"Skipped {counted(len(skipped), 'pod')} the daemon would not handle (--all-pods plans them):")
        lines += [f"  {n} {reason}" for reason, n in why.most_common()]
    lines.append(f"Total: {counted(len(result.new_nodes), 'node')}, ${doc['total_price_usd_per_hour']:.4f}/h")
    return "\n".join(lines)


CHEAPEST_RULE = "fewest unplaced pods first, then the lowest $/h"


def cheapest(docs: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The plan that places the most pods, then costs least: prices of different sets of pods do not compare."""
    return min(docs, key=lambda d: (len(d["unplaced"]), d["total_price_usd_per_hour"]))


def render_comparison(docs: Sequence[Mapping[str, Any]]) -> str:
    best = cheapest(docs)
    lines = [f"Comparison (cheapest: {CHEAPEST_RULE}):"]
    for d in docs:
        price = d["total_price_usd_per_hour"]
        mark = "*" if d is best else " "
        lines.append(
            f"{mark} {d['cloud']:<6} {d['region']:<16} {counted(len(d['nodes']), 'node'):>9}  {f'${price:.4f}/h':>13}"
            f"  {len(d['unplaced'])} unplaced" + ("  <- cheapest" if d is best else "")
        )
    return "\n".join(lines)


def _pod_list(pods: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(pods[:limit])
    return shown + (f" (+{len(pods) - limit} more)" if len(pods) > limit else "")


def run(args: argparse.Namespace) -> int:
    config = config_from_file(args.config) if args.config else Config()
    if args.cloud == "all" and args.region:
        raise ConfigError("--region cannot be combined with --cloud all (each cloud uses its default region)")
    workload = load_workload(args.pods, args.nodes, None if args.all_pods else config)
    for kind, n in sorted(workload.ignored_kinds.items()):
        print(
            f"luna-autoscaler plan: warning: ignored {counted(n, kind + ' object')} (neither pods, workloads, "
            "DaemonSets nor Nodes)",
            file=sys.stderr,
        )
    clouds = CLOUDS if args.cloud == "all" else (args.cloud,)
    results = []
    for cloud in clouds:
        catalog = config.with_cloud_policy(load_catalog(cloud, args.region))  # `aws.*` limits as on the cloud
        results.append((catalog, plan_on(catalog, workload, config)))
    docs = [plan_document(c, r, workload.skipped) for c, r in results]
    if args.output == "json":
        if len(docs) == 1:
            out: dict[str, Any] = docs[0]
        else:
            out = {"schema": SCHEMA + "/compare", "plans": docs, "cheapest": cheapest(docs)["cloud"]}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        tables = [render_table(d, r) for d, (_, r) in zip(docs, results, strict=True)]
        if len(docs) > 1:
            tables.append(render_comparison(docs))
        sys.stdout.write("\n\n".join(tables) + "\n")
    return 0
