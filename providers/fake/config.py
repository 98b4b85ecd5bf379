"""The `fake.*` configuration section: which real cloud's bundled catalog the in-memory fake sells.

`simulate --cloud gcp` and `run --provider fake` price the fake from a real catalog, so plans look as they would on
that cloud. Like every provider section it imports no SDK and is registered under `luna_autoscaler.config_sections`.
"""

from __future__ import annotations

from pydantic import Field

from luna_autoscaler.config import ConfigSection


class FakeConfig(ConfigSection):
    section_name = "fake"

    cloud: str = "aws"  # whose bundled catalog to sell: aws | gcp | azure | oci
    region: str = Field(default="", description="that cloud's region; empty: the cloud's default region")
