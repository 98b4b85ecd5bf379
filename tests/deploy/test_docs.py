"""The user docs of this area say only true things about the code: links resolve, commands use real flags, Event
reasons and log events are ones the code emits, metrics are ones it exports, and each cloud's install page says
whether that cloud's provider exists in this release.
"""

from __future__ import annotations

import argparse
import ast
import re
import tomllib

import pytest

from luna_autoscaler.cli import parser
from tests.deploy.conftest import CLOUD_OF_OVERLAY, REPO, exported_metrics

DOCS = REPO / "docs"
OWN_DOCS = [
    "index.md",
    "quickstart.md",
    "install-eks.md",
    "install-gke.md",
    "install-aks.md",
    "install-oke.md",
    "operations.md",
    "comparison.md",
]
NOT_IN_THIS_RELEASE = "not in this release"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def text(name: str) -> str:
    return (DOCS / name).read_text()


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", markdown, flags=re.DOTALL)


@pytest.mark.parametrize("name", OWN_DOCS)
def test_relative_links_resolve(name: str) -> None:
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text(name)):
        if re.match(r"[a-z]+://", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (DOCS / path).resolve().exists():
            broken.append(target)
    assert not broken, f"{name}: broken links {broken}"


def test_index_lists_every_doc() -> None:
    index = text("index.md")
    pages = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if p.name != "index.md"]
    missing = [p for p in pages if f"]({p})" not in index]
    assert not missing, f"docs/index.md does not link {missing}"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def commands_in(markdown: str) -> list[tuple[str, list[str]]]:
    """(subcommand, its --flags) for every `luna-autoscaler SUBCOMMAND ...` line of the code blocks."""
    found = []
    for block in code_blocks(markdown):
        for line in block.replace("\\\n", " ").splitlines():
            # the command itself (at the start, or after &&, ; or |), not the namespace in `kubectl -n luna-autoscaler`
            for match in re.finditer(r"(?:^|&&|;|\|)\s*(?:\S*/)?luna-autoscaler\s+([a-z]+)((?:\s+[^|;&]+)?)", line):
                found.append((match[1], re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", match[2])))
    return found


@pytest.mark.parametrize("name", OWN_DOCS)
def test_commands_use_real_flags(name: str) -> None:
    commands = subcommands()
    problems = []
    for subcommand, flags in commands_in(text(name)):
        if subcommand not in commands:
            problems.append(f"no command `luna-autoscaler {subcommand}`")
            continue
        known = {o for a in commands[subcommand]._actions for o in a.option_strings}
        problems += [f"`luna-autoscaler {subcommand}` has no {f}" for f in flags if f not in known]
    assert not problems, f"{name}: {problems}"


def test_the_command_parser_catches_a_wrong_flag() -> None:
    block = (
        "```bash\nkubectl -n luna-autoscaler get pods\nluna-autoscaler run --provider aws --no-such-flag | tee x\n```"
    )
    assert commands_in(block) == [("run", ["--provider", "--no-such-flag"])]


def source_strings() -> set[str]:
    """Every string constant in luna_autoscaler/ and providers/: Event reasons, log event names, label keys."""
    strings: set[str] = set()
    for root in ("luna_autoscaler", "providers"):
        for path in (REPO / root).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    strings.add(node.value)
    return strings


def test_event_reasons_and_log_events_in_operations_are_emitted_by_the_code() -> None:
    operations = text("operations.md")
    reasons = set(re.findall(r"^\| `([A-Z][A-Za-z]+)` \|", operations, flags=re.MULTILINE))
    log_events = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", operations, flags=re.MULTILINE))
    assert len(reasons) >= 5 and len(log_events) >= 5, "operations.md should tabulate Event reasons and log events"
    strings = source_strings()
    assert not reasons - strings, f"Event reasons the code never posts: {sorted(reasons - strings)}"
    assert not log_events - strings, f"log events the code never logs: {sorted(log_events - strings)}"


def test_metrics_named_in_docs_are_exported() -> None:
    exported = exported_metrics()
    for name in OWN_DOCS:
        used = {m for m in re.findall(r"\bluna_[a-z_]+", text(name)) if not m.startswith("luna_autoscaler")}
        unknown = {m for m in used if m not in exported and m not in exported.values()}
        assert not unknown, f"{name}: not exported: {sorted(unknown)}"


@pytest.mark.parametrize(("overlay", "cloud"), CLOUD_OF_OVERLAY.items())
def test_install_pages_say_whether_the_provider_exists(overlay: str, cloud: str) -> None:
    providers = PYPROJECT["project"]["entry-points"]["luna_autoscaler.providers"]
    page = text(f"install-{overlay}.md")
    assert f"deploy/overlays/{overlay}" in page
    assert (NOT_IN_THIS_RELEASE in page) == (cloud not in providers), (
        f"install-{overlay}.md must say '{NOT_IN_THIS_RELEASE}' exactly when no `{cloud}` provider is registered"
    )


@pytest.mark.parametrize("name", OWN_DOCS)
def test_repository_paths_named_in_docs_exist(name: str) -> None:
    pattern = r"(?<![\w/.-])((?:deploy/(?:base|overlays|components|dashboards)|docs|examples|benchmarks)\b[\w./-]*\w)"
    paths = set(re.findall(pattern, text(name)))
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, f"{name}: {missing}"
