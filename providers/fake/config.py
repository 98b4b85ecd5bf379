"""The `fake.*` configuration section: which real cloud's bundled catalog the in-memory fake sells.

`simulate --cloud gcp` and `run --provider fake` price the fake from a real catalog, so plans look as they would on
that cloud. Like every provider section it imports no SDK and is registered under `luna_autoscaler.config_sections`.
"""

from __future__ import annotations

from pydantic import Field

from luna_autoscaler.config import ConfigSection, Seconds


class FakeConfig(ConfigSection):
    section_name = "fake"

    cloud: str = "aws"  # whose bundled catalog to sell: aws | gcp | azure | oci
    region: str = Field(default="", description="that cloud's region; empty: the cloud's default region")
    # A JSON file holding the fake cloud's machines, so restarts and other replicas see the same cloud (a real
    # cloud outlives the autoscaler); empty: in memory, gone with the process.
    state_file: str = Field(default="", alias="stateFile")
    # Behave like a pool cloud: launches are accepted first and named later (docs/design/providers.md).
    pool_shaped: bool = Field(default=False, alias="poolShaped")
    # Play the machines' kubelets (for `run --provider fake` against a local API server, where no machine has one):
    # a launched instance, once running, registers its Node with the labels and taints of its launch from the
    # start, the catalog's capacity and allocatable, Ready; terminating it deletes the Node.
    register_nodes: bool = Field(default=False, alias="registerNodes")
    # How long a launched machine takes to boot and join (its Node registers after this, with registerNodes).
    join_delay_seconds: Seconds = Field(default=60.0, alias="joinDelay")
