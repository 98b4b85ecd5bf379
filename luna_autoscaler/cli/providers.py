"""Finding a cloud provider by name, in the entry point group `luna_autoscaler.providers` installed packages declare.

The core never imports a provider (a cluster on one cloud must not need another cloud's SDK); `run --provider` and
`simulate` name one, and this is where the name becomes a factory. What can go wrong is said in terms the user
can act on, before anything reaches a cluster (`preflight`):
- a name nothing installed declares lists the names that are installed;
- a provider whose SDK extra is not installed says which extra to install (pip install 'luna-autoscaler[gcp]'),
  read from the declaring distribution's own metadata (`Requires-Dist: ...; extra == "gcp"`), so no list of
  clouds lives here and a third-party provider gets the same check;
- a provider module may define `preflight(environ)`, a cheap local check of its own (are credentials configured
  where its SDK will look?) that raises a LunaError with one actionable line (docs/design/preflight.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, metadata, version

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from luna_autoscaler import __version__
from luna_autoscaler.errors import ConfigError, MissingExtra
from luna_autoscaler.ports import PROVIDER_ENTRY_POINT_GROUP, ProviderFactory

DISTRIBUTION = "luna-autoscaler"
PREFLIGHT_HOOK = "preflight"  # the optional function a provider module defines: preflight(environ) -> None

Preflight = Callable[[Mapping[str, str]], object]


def find_provider(name: str) -> EntryPoint:
    """The entry point registered under `name`; ConfigError naming the installed ones if there is none."""
    installed = entry_points(group=PROVIDER_ENTRY_POINT_GROUP)
    found = installed.select(name=name)
    if found:
        return next(iter(found))
    names = ", ".join(sorted(set(installed.names))) or "none"
    if name in _extras(DISTRIBUTION):
        raise ConfigError(
            f"no provider {name!r} is installed: luna-autoscaler {__version__} ships none yet (installed: {names}); "
            f"the [{name}] extra only adds its SDK"
        )
    raise ConfigError(
        f"no provider {name!r} is installed (installed: {names}): check the name, or install the package that "
        f"declares it in the entry point group {PROVIDER_ENTRY_POINT_GROUP}"
    )


def provider_factory(name: str) -> ProviderFactory:
    """The factory registered under `name`; ConfigError if none is, MissingExtra if its cloud SDK is missing."""
    return _load(find_provider(name), name)


def preflight(name: str, environ: Mapping[str, str]) -> ProviderFactory:
    """Everything about provider `name` that can be checked without a cluster or a cloud call, in the order a new
    user meets it: declared, its SDK extra installed, importable, its own `preflight(environ)` hook (if any)."""
    entry = find_provider(name)
    _check_extra(entry, name)
    factory = _load(entry, name)
    hook = getattr(importlib.import_module(entry.module), PREFLIGHT_HOOK, None)
    if callable(hook):
        checks: Preflight = hook
        checks(environ)
    return factory


def _load(entry: EntryPoint, name: str) -> ProviderFactory:
    try:
        factory: ProviderFactory = entry.load()
    except MissingExtra:
        raise
    except ImportError as e:
        for distribution in (entry.dist.name if entry.dist else DISTRIBUTION, DISTRIBUTION):
            if name in _extras(distribution):
                raise MissingExtra(name, e.name or str(e), distribution=distribution) from e
        raise ConfigError(f"provider {name!r} ({entry.value}) cannot be imported: {e}") from e
    return factory


def _check_extra(entry: EntryPoint, name: str) -> None:
    """MissingExtra for the first requirement of the declaring distribution's extra `name` that is not installed."""
    if entry.dist is None:
        return
    for line in entry.dist.requires or ():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        marker = requirement.marker
        if marker is None or not marker.evaluate({"extra": name}) or marker.evaluate({"extra": ""}):
            continue  # not part of this extra (a base dependency, or another extra's)
        try:
            version(requirement.name)
        except PackageNotFoundError:
            raise MissingExtra(name, requirement.name, distribution=entry.dist.name) from None


def _extras(distribution: str) -> frozenset[str]:
    """The optional dependency groups of a distribution (aws, gcp, ...): the SDKs its providers may need."""
    try:
        return frozenset(canonicalize_name(e) for e in metadata(distribution).get_all("Provides-Extra") or ())
    except PackageNotFoundError:
        return frozenset()
