"""Finding a cloud provider by name, in the entry point group `luna_autoscaler.providers` installed packages declare.

The core never imports a provider (a cluster on one cloud must not need another cloud's SDK); `run --provider` and
`simulate` name one, and this is where the name becomes a factory. What can go wrong is said in terms the user
can act on: a name nothing installed declares lists the names that are installed; a provider of this package
whose cloud SDK is missing says which extra to install (`MissingExtra`: pip install 'luna-autoscaler[gcp]').
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, entry_points, metadata

from luna_autoscaler.errors import ConfigError, MissingExtra
from luna_autoscaler.ports import PROVIDER_ENTRY_POINT_GROUP, ProviderFactory

DISTRIBUTION = "luna-autoscaler"


def provider_factory(name: str) -> ProviderFactory:
    """The factory registered under `name`; ConfigError if none is, MissingExtra if its cloud SDK is missing."""
    installed = entry_points(group=PROVIDER_ENTRY_POINT_GROUP)
    found = installed.select(name=name)
    if not found:
        names = ", ".join(sorted(set(installed.names))) or "none"
        raise ConfigError(
            f"no provider {name!r} is installed (entry point group {PROVIDER_ENTRY_POINT_GROUP}; installed: "
            f"{names}); install luna-autoscaler (pip install luna-autoscaler, or pip install -e . in a checkout)"
        )
    entry = next(iter(found))
    try:
        factory: ProviderFactory = entry.load()
    except MissingExtra:
        raise
    except ImportError as e:
        if name in _extras():
            raise MissingExtra(name, e.name or str(e)) from e
        raise ConfigError(f"provider {name!r} ({entry.value}) cannot be imported: {e}") from e
    return factory


def _extras() -> frozenset[str]:
    """The optional dependency groups of this package (aws, gcp, ...): the SDKs a provider of ours may need."""
    try:
        return frozenset(metadata(DISTRIBUTION).get_all("Provides-Extra") or ())
    except PackageNotFoundError:
        return frozenset()
