"""NVIDIA Multi-Instance GPU: which slices each GPU model offers, which mixes fit on one GPU, and the layouts the
planner may give a node.

A MIG-capable GPU has 7 compute slices and 8 memory slices. A profile `<c>g.<m>gb` takes c compute slices and a
fixed number of memory slices, and may only start at certain memory-slice positions; two instances on a GPU may
not overlap. So not every mix whose compute adds up to 7 is placeable (two `3g.40gb` and one `1g.10gb` are: the
3g ones take slices 0-3 and 4-7, leaving no room — they are not), and the planner checks mixes with `placeable`.

Profiles and placements are NVIDIA's (MIG User Guide, "Supported MIG Profiles" for A100, A30, H100, H100 NVL,
H200 and B200, https://docs.nvidia.com/datacenter/tesla/mig-user-guide/); layout names are the MIG manager's
(`default-mig-parted-config` of the GPU operator: `all-1g.10gb`, `all-balanced`, ...). The `+me` (media
extension) profiles are left out: no scheduler resource distinguishes them in the mixed strategy.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

MIG_CONFIG_LABEL = "nvidia.com/mig.config"
"""The node label the GPU operator's MIG manager reads: the name of the layout to apply to the node's GPUs."""

COMPUTE_SLICES = 7
MEMORY_SLICES = 8
CUSTOM_LAYOUT_PREFIX = "luna-mig-"


@dataclass(frozen=True, slots=True)
class MigProfile:
    name: str  # "1g.10gb"
    compute_slices: int
    memory_slices: int
    starts: tuple[int, ...]  # memory-slice positions an instance may start at


def _profiles(gb: tuple[int, int, int, int, int, int]) -> tuple[MigProfile, ...]:
    """The A100/H100 family's shapes, with this model's memory per profile (1g, 1g double memory, 2g, 3g, 4g, 7g)."""
    one, one_double, two, three, four, seven = gb
    return (
        MigProfile(f"1g.{one}gb", 1, 1, (0, 1, 2, 3, 4, 5, 6)),
        MigProfile(f"1g.{one_double}gb", 1, 2, (0, 2, 4, 6)),
        MigProfile(f"2g.{two}gb", 2, 2, (0, 2, 4)),
        MigProfile(f"3g.{three}gb", 3, 4, (0, 4)),
        MigProfile(f"4g.{four}gb", 4, 4, (0,)),
        MigProfile(f"7g.{seven}gb", 7, 8, (0,)),
    )


# GPU model (as `gpu_sku` names it, with memory where the SKU has variants) → its profiles.
_MODELS: Mapping[str, tuple[MigProfile, ...]] = MappingProxyType(
    {
        "A100-40GB": _profiles((5, 10, 10, 20, 20, 40)),
        "A100-80GB": _profiles((10, 20, 20, 40, 40, 80)),
        "H100-80GB": _profiles((10, 20, 20, 40, 40, 80)),
        "H100-94GB": _profiles((12, 24, 24, 47, 47, 94)),
        "H200-141GB": _profiles((18, 35, 35, 71, 71, 141)),
        "B200-180GB": _profiles((23, 45, 45, 90, 90, 180)),
        # A30: 4 compute slices and 4 memory slices; 1g.6gb x4, 2g.12gb x2, 4g.24gb x1.
        "A30-24GB": (
            MigProfile("1g.6gb", 1, 1, (0, 1, 2, 3)),
            MigProfile("2g.12gb", 2, 2, (0, 2)),
            MigProfile("4g.24gb", 4, 4, (0,)),
        ),
    }
)
# (compute, memory) slices of a GPU where it is not 7 and 8.
_SLICES: Mapping[str, tuple[int, int]] = MappingProxyType({"A30-24GB": (4, 4)})
# all-balanced of the MIG manager's default config, per model: (profile index in _MODELS order, count).
_BALANCED: Mapping[str, tuple[tuple[int, int], ...]] = MappingProxyType(
    {name: ((0, 2), (2, 1), (3, 1)) for name in _MODELS if name != "A30-24GB"} | {"A30-24GB": ((0, 2), (1, 1))}
)


def mig_model(sku: str, memory_mib_per_device: int) -> str | None:
    """The MIG model key of a GPU (None: not MIG-capable), from its SKU and memory per device."""
    gib = memory_mib_per_device // 1024
    if sku.startswith("A100"):
        return "A100-80GB" if sku.endswith("80GB") or gib >= 60 else "A100-40GB"
    if sku.startswith("H100"):
        return "H100-94GB" if gib >= 90 else "H100-80GB"
    if sku.startswith("H200"):
        return "H200-141GB"
    if sku.startswith("B200"):
        return "B200-180GB"
    if sku.startswith("A30"):
        return "A30-24GB"
    return None


def profiles(model: str) -> tuple[MigProfile, ...]:
    return _MODELS[model]


def all_profile_names() -> frozenset[str]:
    return frozenset(p.name for ps in _MODELS.values() for p in ps)


def placeable(model: str, counts: Mapping[str, int]) -> bool:
    """Whether these profile counts fit together on one GPU of `model` (non-overlapping placements)."""
    by_name = {p.name: p for p in _MODELS[model]}
    if any(name not in by_name for name in counts):
        return False
    wanted = sorted((by_name[name] for name, n in counts.items() for _ in range(n)), key=lambda p: -p.memory_slices)
    compute, total_memory = _SLICES.get(model, (COMPUTE_SLICES, MEMORY_SLICES))
    if sum(p.compute_slices for p in wanted) > compute:
        return False

    def fit(i: int, used: int) -> bool:
        if i == len(wanted):
            return True
        p = wanted[i]
        for start in p.starts:
            mask = ((1 << p.memory_slices) - 1) << start
            if start + p.memory_slices <= total_memory and not used & mask and fit(i + 1, used | mask):
                return True
        return False

    return fit(0, 0)


@dataclass(frozen=True, slots=True)
class MigLayout:
    """One partitioning of every GPU of a node: `per_gpu` slices of each profile on each GPU."""

    name: str  # the `nvidia.com/mig.config` value: a default config's name, or a generated `luna-mig-...`
    per_gpu: tuple[tuple[str, int], ...]  # (profile, count), sorted by profile

    @property
    def default(self) -> bool:
        """A layout the MIG manager's default configuration already knows (no custom config needed)."""
        return not self.name.startswith(CUSTOM_LAYOUT_PREFIX)

    def resources(self, gpus: int) -> dict[str, int]:
        """The mixed strategy's resources of a node with `gpus` GPUs in this layout."""
        return {f"nvidia.com/mig-{profile}": n * gpus for profile, n in self.per_gpu}


def custom_name(per_gpu: Iterable[tuple[str, int]]) -> str:
    """A layout name that says its content (`luna-mig-1g.10gbx4-3g.40gbx1`), so it reads back without a table."""
    return CUSTOM_LAYOUT_PREFIX + "-".join(f"{p}x{n}" for p, n in sorted(per_gpu))


@functools.cache
def layouts(model: str) -> tuple[MigLayout, ...]:
    """Every layout the planner may give a node of this GPU model: the default config's uniform ones
    (`all-<profile>`) and `all-balanced` first, then every other maximal placeable mix of profiles (one that no
    further slice fits into), named by content. Deterministic order."""
    ps = _MODELS[model]
    out: list[MigLayout] = []
    seen: set[tuple[tuple[str, int], ...]] = set()

    def add(name: str, per_gpu: tuple[tuple[str, int], ...]) -> None:
        key = tuple(sorted(per_gpu))
        if key not in seen:
            seen.add(key)
            out.append(MigLayout(name, key))

    for p in ps:
        n = max(k for k in range(1, 8) if placeable(model, {p.name: k}))
        add(f"all-{p.name}", ((p.name, n),))
    add("all-balanced", tuple((ps[i].name, n) for i, n in _BALANCED[model]))
    names = [p.name for p in ps]
    for mix in _mixes(ps, 0, _SLICES.get(model, (COMPUTE_SLICES, MEMORY_SLICES))[0]):
        if len(mix) < 2 or not placeable(model, mix):
            continue
        if any(placeable(model, {**mix, extra: mix.get(extra, 0) + 1}) for extra in names):
            continue  # not maximal: a further slice fits
        add(custom_name(mix.items()), tuple(mix.items()))
    return tuple(out)


def _mixes(ps: tuple[MigProfile, ...], i: int, compute_left: int) -> Iterable[dict[str, int]]:
    """Every multiset of profiles from `ps[i:]` within the compute budget (placement is checked by the caller)."""
    if i == len(ps):
        yield {}
        return
    p = ps[i]
    for n in range(compute_left // p.compute_slices + 1):
        for rest in _mixes(ps, i + 1, compute_left - n * p.compute_slices):
            yield {p.name: n, **rest} if n else rest


def layout_named(model: str, name: str) -> MigLayout | None:
    """A layout by its `nvidia.com/mig.config` name: a known one, or a custom name that parses and is placeable."""
    for layout in layouts(model):
        if layout.name == name:
            return layout
    if not name.startswith(CUSTOM_LAYOUT_PREFIX):
        return None
    per_gpu: dict[str, int] = {}
    for part in name.removeprefix(CUSTOM_LAYOUT_PREFIX).split("-"):
        profile, sep, count = part.rpartition("x")
        if not sep or not count.isdecimal() or not profile:
            return None
        per_gpu[profile] = int(count)
    return MigLayout(name, tuple(sorted(per_gpu.items()))) if placeable(model, per_gpu) else None


def mig_parted_config(used: Iterable[MigLayout]) -> dict[str, object]:
    """The MIG manager (mig-parted) configuration defining the custom layouts a plan uses, to add to the GPU
    operator's MIG config ConfigMap: default layouts need no entry."""
    configs = {
        layout.name: [{"devices": "all", "mig-enabled": True, "mig-devices": dict(layout.per_gpu)}]
        for layout in sorted(set(used), key=lambda x: x.name)
        if not layout.default
    }
    return {"version": "v1", "mig-configs": configs}
