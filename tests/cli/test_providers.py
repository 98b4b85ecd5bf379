"""Providers found by entry point name, and the errors a user can act on when one cannot be."""

from __future__ import annotations

import pytest

from luna_autoscaler.cli.providers import provider_factory
from luna_autoscaler.errors import ConfigError, MissingExtra
from providers.fake import create as create_fake
from tests.conftest import InstallProvider


def test_the_installed_providers_resolve_by_name() -> None:
    assert provider_factory("fake") is create_fake


def test_a_name_nothing_declares_lists_what_is_installed(install_provider: InstallProvider) -> None:
    install_provider("nimbus-test", "providers.fake:create")
    with pytest.raises(ConfigError, match="no provider 'no-such-cloud' is installed") as raised:
        provider_factory("no-such-cloud")
    installed = str(raised.value).split("installed: ", 1)[1].split(")", 1)[0].split(", ")
    assert {"aws", "fake", "nimbus-test"} <= set(installed) and installed == sorted(installed)
    assert "check the name" in str(raised.value)


def test_a_provider_of_ours_without_its_cloud_sdk_names_the_extra(install_provider: InstallProvider) -> None:
    install_provider("gcp", "tests.cli.no_such_sdk:create")  # as a provider importing a missing SDK at load
    with pytest.raises(MissingExtra, match=r"pip install 'luna-autoscaler\[gcp\]'"):
        provider_factory("gcp")


def test_a_third_party_provider_that_cannot_be_imported_says_which_and_why(install_provider: InstallProvider) -> None:
    install_provider("nimbus", "nimbus_provider_not_installed:create")
    with pytest.raises(ConfigError, match=r"provider 'nimbus' \(nimbus_provider_not_installed:create\) cannot be"):
        provider_factory("nimbus")
