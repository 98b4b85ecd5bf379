"""The Dockerfile, checked statically (no Docker engine here): what it builds from, as whom it runs, what it runs.

The instructions are parsed the way the Dockerfile frontend reads them (comments dropped, `\\` continuations
joined, JSON exec form), then held against pyproject.toml, .dockerignore and the Deployment in deploy/base.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field

import pytest

from tests.deploy.conftest import DEPLOY, REPO, container
from tests.deploy.kustomize import render


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


@dataclass(frozen=True)
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    @staticmethod
    def parse(text: str) -> Dockerfile:
        logical: list[str] = []
        pending = ""
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            logical.append(pending + line)
            pending = ""
        assert not pending, "the Dockerfile ends inside a continued line"
        global_args: dict[str, str] = {}
        stages: list[Stage] = []
        for line in logical:
            keyword, _, args = line.partition(" ")
            keyword, args = keyword.upper(), args.strip()
            if keyword == "FROM":
                parts = args.split()
                name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else ""
                stages.append(Stage(image=parts[0], name=name))
            elif not stages and keyword == "ARG":
                key, _, default = args.partition("=")
                global_args[key] = default
            else:
                assert stages, f"{keyword} before the first FROM"
                stages[-1].instructions.append((keyword, args))
        return Dockerfile(global_args, stages)

    def base_image(self, stage: Stage) -> str:
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: self.global_args[m[1] or m[2]], stage.image)


DOCKERFILE = Dockerfile.parse((REPO / "Dockerfile").read_text())
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
BUILDER, RUNTIME = DOCKERFILE.stages[0], DOCKERFILE.stages[-1]


def stage_arg_default(stage: Stage, name: str) -> str:
    for args in stage.all("ARG"):
        key, _, default = args.partition("=")
        if key == name:
            return default
    raise AssertionError(f"stage {stage.name} declares no ARG {name}")


def env(stage: Stage) -> dict[str, str]:
    out: dict[str, str] = {}
    for args in stage.all("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            out[key] = value
    return out


def test_two_stages_on_a_pinned_slim_python() -> None:
    assert len(DOCKERFILE.stages) == 2
    assert BUILDER.name == "builder"
    for stage in DOCKERFILE.stages:
        image = DOCKERFILE.base_image(stage)
        repository, _, tag = image.partition(":")
        assert repository == "python", image
        # A pinned minor version on a slim Debian base: never `latest`, never a bare `python`.
        assert re.fullmatch(r"3\.\d+(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]{64})?", tag), image
    runtime_python = DOCKERFILE.base_image(RUNTIME).split(":")[1].split("-")[0]
    required = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    assert tuple(map(int, runtime_python.split("."))) >= tuple(map(int, required.split("."))), runtime_python


def test_builder_builds_a_wheel_and_installs_the_chosen_extras() -> None:
    extras = stage_arg_default(BUILDER, "EXTRAS")
    assert extras == "aws"
    assert set(extras.split(",")) <= set(PYPROJECT["project"]["optional-dependencies"]) - {"dev"}
    run = " && ".join(BUILDER.all("RUN"))
    assert "pip wheel" in run
    assert "[${EXTRAS}]" in run
    # The runtime gets the installed virtualenv only: no source tree, no wheel cache, no compiler.
    assert RUNTIME.all("COPY") == ["--from=builder /opt/venv /opt/venv"]


def dockerignore_allows(path: str) -> bool:
    """Whether a top-level path of the repository reaches the build context. Docker's rule: the last matching
    pattern wins and `!` re-includes; `**/name` patterns match the file's own name."""
    allowed = True
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").removeprefix("**/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.rsplit("/", 1)[-1], pattern):
            allowed = negate
    return allowed


def test_builder_copies_everything_the_wheel_is_built_from() -> None:
    sources = [src for args in BUILDER.all("COPY") for src in args.split()[:-1]]
    packages = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    needed = {"pyproject.toml", PYPROJECT["project"]["readme"], *(p.rstrip("*") for p in packages)}
    assert needed <= set(sources), f"not copied into the builder: {needed - set(sources)}"
    for src in sources:
        assert (REPO / src).exists(), src
        assert dockerignore_allows(src), f"{src} is copied but excluded by .dockerignore"
    assert not dockerignore_allows(".venv")
    assert not dockerignore_allows("tests")
    assert not dockerignore_allows("luna_autoscaler/__pycache__")


def test_runtime_runs_as_a_fixed_non_root_user() -> None:
    users = RUNTIME.all("USER")
    assert users == ["65532:65532"]
    deployment = next(o for o in render(DEPLOY / "base") if o["kind"] == "Deployment")
    pod_security = deployment["spec"]["template"]["spec"]["securityContext"]
    assert (pod_security["runAsUser"], pod_security["runAsGroup"]) == (65532, 65532)


def test_runtime_is_read_only_root_filesystem_friendly() -> None:
    variables = env(RUNTIME)
    assert variables["PYTHONDONTWRITEBYTECODE"] == "1"
    for name in ("XDG_CACHE_HOME", "HOME"):
        assert variables[name].startswith("/tmp"), name
    assert RUNTIME.all("WORKDIR") == ["/tmp"]
    # Bytecode is compiled at build time, since the runtime cannot write it.
    assert "compileall" in " ".join(BUILDER.all("RUN"))
    mounts = container(render(DEPLOY / "base"))["volumeMounts"]
    assert {m["mountPath"] for m in mounts} == {"/tmp"}


def test_entrypoint_is_the_console_script_run_command() -> None:
    (entrypoint,) = RUNTIME.all("ENTRYPOINT")
    command = json.loads(entrypoint)  # exec form: signals reach Python directly, not a shell
    assert command[1:] == ["run"]
    assert command[0] in PYPROJECT["project"]["scripts"]
    assert "/opt/venv/bin" in env(RUNTIME)["PATH"].split(":")


def test_exposed_ports_are_the_deployment_ports() -> None:
    (exposed,) = RUNTIME.all("EXPOSE")
    ports = {p["containerPort"] for p in container(render(DEPLOY / "base"))["ports"]}
    assert {int(p) for p in exposed.split()} == ports


@pytest.mark.parametrize(
    ("text", "problem"),
    [("FROM python:3.11-slim\nRUN echo \\\n", "ends inside"), ("RUN echo\nFROM python:3.11-slim\n", "before")],
)
def test_the_parser_rejects_malformed_dockerfiles(text: str, problem: str) -> None:
    with pytest.raises(AssertionError, match=problem):
        Dockerfile.parse(text)
