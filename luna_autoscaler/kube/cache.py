"""The cluster as the loop sees it: pods, nodes, DaemonSets and PDBs kept current by reflectors, as domain values.

Each object is converted to its frozen domain value (`luna_autoscaler.models.manifest`) the moment it arrives and
its JSON is dropped, so the cache holds only what the loop reads. One lock guards all four kinds: a snapshot is
taken under it, so it never mixes a re-list of nodes with half of the events that came before it. Snapshots
list objects in namespace/name order, so the planner sees the same input for the same cluster state whatever
order events arrived in.

An object that cannot be read (a malformed quantity, say) is left out of the snapshot and listed by
`invalid_objects()` with the reason, rather than failing the whole cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import structlog

from luna_autoscaler.errors import LunaError, ManifestError
from luna_autoscaler.kube.reflector import Json
from luna_autoscaler.models.manifest import (
    daemonset_from_manifest,
    node_from_manifest,
    pdb_from_manifest,
    pod_from_manifest,
)
from luna_autoscaler.models.pod import DaemonSet, DisruptionBudget, Node, Pod
from luna_autoscaler.ports import ClusterSnapshot

log = structlog.get_logger("luna_autoscaler.kube")

T = TypeVar("T")


class NotSynced(LunaError):
    """The cache has not completed its first list of every resource: acting now would act on a partial view."""


class CacheStale(LunaError):
    """The cache has not been refreshed for too long (API server unreachable): acting now would act on the past."""


def object_key(obj: Json) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name', '')}" if namespace else str(meta.get("name", ""))


def _newer(a: str, b: str) -> str:
    """The later of two resourceVersions (they are etcd revisions: integers, compared as such when they are)."""
    if a.isdigit() and b.isdigit():
        return a if int(a) >= int(b) else b
    return a or b


class KindStore(Generic[T]):
    """One resource's objects, by namespace/name; a reflector's sink."""

    def __init__(self, resource: str, convert: Callable[[Json], T], cache: ClusterCache) -> None:
        self.resource = resource
        self._convert = convert
        self._cache = cache
        self._objects: dict[str, T] = {}
        self._ordered: tuple[T, ...] | None = ()
        self.invalid: dict[str, str] = {}

    def _read(self, obj: Json, key: str, invalid: dict[str, str]) -> T | None:
        """The domain value, or None after noting in `invalid` why the object cannot be read."""
        try:
            return self._convert(obj)
        except (ManifestError, TypeError, ValueError, AttributeError) as e:
            if self.invalid.get(key) != str(e):  # log a bad object once, not at every re-list
                log.warning("kube.invalid_object", resource=self.resource, object=key, error=str(e))
            invalid[key] = str(e)
            return None

    def replace(self, objects: Iterable[Json], resource_version: str) -> None:
        fresh: dict[str, T] = {}
        invalid: dict[str, str] = {}
        for obj in objects:
            key = object_key(obj)
            value = self._read(obj, key, invalid)
            if value is not None:
                fresh[key] = value
        with self._cache.lock:
            self._objects = fresh
            self.invalid = invalid
            self._ordered = None
            self._cache.changed(resource_version)

    def upsert(self, obj: Json, resource_version: str) -> None:
        key = object_key(obj)
        problem: dict[str, str] = {}
        value = self._read(obj, key, problem)
        with self._cache.lock:
            if value is None:
                self._objects.pop(key, None)
            else:
                self._objects[key] = value
            if problem or key in self.invalid:
                self.invalid = {**{k: v for k, v in self.invalid.items() if k != key}, **problem}
            self._ordered = None
            self._cache.changed(resource_version)

    def remove(self, obj: Json, resource_version: str) -> None:
        key = object_key(obj)
        with self._cache.lock:
            self._objects.pop(key, None)
            if key in self.invalid:
                self.invalid = {k: v for k, v in self.invalid.items() if k != key}
            self._ordered = None
            self._cache.changed(resource_version)

    def ordered(self) -> tuple[T, ...]:
        """Objects in key order; call with the cache lock held."""
        if self._ordered is None:
            self._ordered = tuple(self._objects[k] for k in sorted(self._objects))
        return self._ordered


class ClusterCache:
    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.pods: KindStore[Pod] = KindStore("pods", pod_from_manifest, self)
        self.nodes: KindStore[Node] = KindStore("nodes", node_from_manifest, self)
        self.daemonsets: KindStore[DaemonSet] = KindStore("daemonsets", daemonset_from_manifest, self)
        self.pdbs: KindStore[DisruptionBudget] = KindStore("poddisruptionbudgets", pdb_from_manifest, self)
        self._generation = 0
        self._resource_version = ""
        self._snapshot: ClusterSnapshot | None = None

    @property
    def kinds(self) -> tuple[KindStore[Any], ...]:
        return (self.pods, self.nodes, self.daemonsets, self.pdbs)

    def changed(self, resource_version: str) -> None:
        """Called by a store, under the lock, after every change."""
        self._generation += 1
        self._resource_version = _newer(resource_version, self._resource_version)
        self._snapshot = None
        self.lock.notify_all()

    @property
    def generation(self) -> int:
        """Grows with every applied list or event; pair with wait_for_change to sleep until something happens."""
        with self.lock:
            return self._generation

    def wait_for_change(self, after_generation: int, timeout_seconds: float) -> int:
        with self.lock:
            self.lock.wait_for(lambda: self._generation > after_generation, timeout_seconds)
            return self._generation

    def snapshot(self) -> ClusterSnapshot:
        with self.lock:
            if self._snapshot is None:
                self._snapshot = ClusterSnapshot(
                    pods=self.pods.ordered(),
                    nodes=self.nodes.ordered(),
                    daemonsets=self.daemonsets.ordered(),
                    pdbs=self.pdbs.ordered(),
                    resource_version=self._resource_version,
                )
            return self._snapshot

    def invalid_objects(self) -> Mapping[str, str]:
        """`resource namespace/name` → why it could not be read, for every object left out of snapshots."""
        with self.lock:
            return {f"{kind.resource} {key}": why for kind in self.kinds for key, why in kind.invalid.items()}
