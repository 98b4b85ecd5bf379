"""The gang scheduler's part of the simulated kube-scheduler, and the GPU-hours that partial gangs waste.

A gang scheduler (KAI, coscheduling, Volcano) binds a group's pods only when `minMember` of them fit at once;
until then none is bound and the capacity that fits some of them sits idle. `place_gang` makes that decision for
one gang over the current nodes. `PartialGangs` keeps the record: from the moment some of a gang's pending pods
would fit while the gang as a whole does not, the GPUs those pods ask for are held by a partial gang; if the
gang then binds whole, that time was the wait for its last nodes (join times differ), otherwise (the capacity
went away, or the run ended first) it was wasted: nodes bought for part of a gang that never ran on them. An
autoscaler that buys a gang's nodes all or none wastes nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from luna_autoscaler.models.pod import Node
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.models.workloads import Gang
from luna_autoscaler.simulation.scheduler import Scoring, choose_node


def place_gang(
    gang: Gang, nodes: Iterable[Node], used: Mapping[str, Resources], scoring: Scoring
) -> tuple[dict[str, Node], float]:
    """Where the gang's pending pods go (pod key → node) when at least `needed` of them fit together, else
    nothing; and the GPUs of the pods that would fit while the gang does not (0 when it binds)."""
    tentative = dict(used)
    candidates = list(nodes)
    placed: dict[str, Node] = {}
    for pod in sorted(gang.pending, key=lambda p: p.key):
        node = choose_node(pod, ((n, tentative[n.name]) for n in candidates), scoring)
        if node is not None:
            placed[pod.key] = node
            tentative[node.name] = tentative[node.name] + pod.requests
    if len(placed) >= gang.needed:
        return placed, 0.0
    by_key = {p.key: p for p in gang.pending}
    return {}, float(sum(by_key[k].requests.gpus() for k in placed))


@dataclass
class _Episode:
    gpus: float  # held now
    gpu_seconds: float = 0.0


class PartialGangs:
    """GPU-seconds held by partial gangs, split into waited (the gang bound in the end) and wasted."""

    def __init__(self) -> None:
        self._open: dict[str, _Episode] = {}
        self._last = 0.0
        self.waited_gpu_seconds = 0.0
        self.wasted_gpu_seconds = 0.0

    def advance(self, now_seconds: float) -> None:
        """Account the time since the last call at the GPUs held then."""
        elapsed = max(0.0, now_seconds - self._last)
        for episode in self._open.values():
            episode.gpu_seconds += episode.gpus * elapsed
        self._last = now_seconds

    def held(self, gang: str, gpus: float) -> None:
        """The gang did not bind; `gpus` of its pods would fit. Zero closes its episode as wasted."""
        episode = self._open.get(gang)
        if gpus > 0:
            if episode is None:
                self._open[gang] = _Episode(gpus)
            else:
                episode.gpus = gpus
        elif episode is not None:
            self.wasted_gpu_seconds += self._open.pop(gang).gpu_seconds

    def bound(self, gang: str) -> None:
        episode = self._open.pop(gang, None)
        if episode is not None:
            self.waited_gpu_seconds += episode.gpu_seconds

    def gone(self, live: Iterable[str]) -> None:
        """Gangs no longer pending (finished, or their pods gone): what they held was wasted."""
        keep = set(live)
        for gang in [g for g in self._open if g not in keep]:
            self.wasted_gpu_seconds += self._open.pop(gang).gpu_seconds

    def finish(self, now_seconds: float) -> None:
        """The run ends: gangs still partial wasted what they held."""
        self.advance(now_seconds)
        self.gone(())
