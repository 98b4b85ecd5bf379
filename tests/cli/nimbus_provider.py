"""A test-only provider module with its own pre-flight hook, as a third-party provider would ship one."""

from __future__ import annotations

from collections.abc import Mapping

from luna_autoscaler.errors import ProviderConfigurationError
from providers.fake import create

__all__ = ["create", "preflight"]

TOKEN_VARIABLE = "NIMBUS_TOKEN"


def preflight(environ: Mapping[str, str]) -> None:
    if not environ.get(TOKEN_VARIABLE):
        raise ProviderConfigurationError(f"no nimbus credentials: set {TOKEN_VARIABLE} or mount the nimbus token")
