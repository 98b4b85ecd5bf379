"""The `luna-autoscaler` command: the composition root that builds settings and wires the parts together.

Each subcommand lives in its own module with a `register(subparsers)` function, imported only when that
command runs (or for the full help): `plan` never loads the Kubernetes client, the reconcile loop or the
simulation, which were a third of a small plan's time. Errors the product raises on purpose (bad manifest, bad
config, unknown cloud) end with a one-line message on stderr and exit code 2, never a stack trace; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from luna_autoscaler import __version__
from luna_autoscaler.errors import LunaError

EXIT_BAD_INPUT = 2
COMMANDS = ("plan", "run", "simulate")  # modules of luna_autoscaler.cli, in the order the help lists them


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line parser: with `command`, only that subcommand's module is imported and registered."""
    root = argparse.ArgumentParser(
        prog="luna-autoscaler",
        description="Node autoscaler for GPU Kubernetes clusters: cheapest spot or on-demand nodes for pending pods.",
    )
    root.add_argument("--version", action="version", version=f"luna-autoscaler {__version__}")
    subparsers = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in (command,) if command in COMMANDS else COMMANDS:
        importlib.import_module(f"luna_autoscaler.cli.{name}").register(subparsers)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)  # the root takes no option with a value
    args = parser(command).parse_args(argv)
    try:
        code: int = args.func(args)
    except LunaError as e:
        print(f"luna-autoscaler {args.command}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return 0
    return code
