"""The `luna-autoscaler` command: the composition root that builds settings and wires the parts together.

Each subcommand lives in its own module with a `register(subparsers)` function. Errors the product raises on
purpose (bad manifest, bad config, unknown cloud) end with a one-line message on stderr and exit code 2, never a
stack trace; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from luna_autoscaler import __version__
from luna_autoscaler.cli import plan, run, simulate
from luna_autoscaler.errors import LunaError

EXIT_BAD_INPUT = 2


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="luna-autoscaler",
        description="Node autoscaler for GPU Kubernetes clusters: cheapest spot or on-demand nodes for pending pods.",
    )
    root.add_argument("--version", action="version", version=f"luna-autoscaler {__version__}")
    subparsers = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (plan, run, simulate):
        module.register(subparsers)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except LunaError as e:
        print(f"luna-autoscaler {args.command}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return 0
    return code
