"""docker-compose.yml, environment.yml, pyproject.toml and constraints.txt agree and follow the rules."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^;\s]+)", line.strip())
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_compose_has_the_full_stack():
    assert {"postgresql", "temporal", "temporal-ui", "lab"} <= set(SERVICES)
    assert SERVICES["temporal"]["environment"]["DB"].startswith("postgres")
    assert SERVICES["temporal"]["environment"]["POSTGRES_SEEDS"] == "postgresql"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_compose_ports_bind_loopback_only(name):
    for port in SERVICES[name].get("ports", []):
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


@pytest.mark.parametrize("name", [n for n in sorted(SERVICES) if "image" in SERVICES[n]])
def test_compose_images_are_pinned(name):
    image = SERVICES[name]["image"]
    assert ":" in image and not image.endswith(":latest")
    assert re.search(r":\d+\.\d+", image), f"{image} is not pinned to a version"


def test_compose_health_and_order():
    for name in ("postgresql", "temporal", "lab"):
        assert "test" in SERVICES[name]["healthcheck"]
    assert SERVICES["temporal"]["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert SERVICES["lab"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    assert SERVICES["temporal-ui"]["depends_on"]["temporal"]["condition"] == "service_healthy"


def test_compose_lab_uses_the_stack_and_keeps_state():
    lab = SERVICES["lab"]
    assert lab["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert lab["environment"]["LAB_UI_URL"].startswith("http://127.0.0.1:")
    assert ".:/lab" in lab["volumes"]
    named = set(COMPOSE["volumes"])
    assert any(v.split(":")[0] in named for v in SERVICES["postgresql"]["volumes"])
    dockerfile = (ROOT / lab["build"]["dockerfile"]).read_text()
    assert "-c constraints.txt" in dockerfile and "lab_support.launch" in dockerfile


def test_environment_yml_builds_the_same_pinned_environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    minimum = tuple(int(x) for x in project["requires-python"].removeprefix(">=").split("."))
    assert tuple(int(x) for x in python.split("=")[1].split(".")) >= minimum
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-c constraints.txt" in pip and "-e .[test]" in pip


def test_every_dependency_is_pinned_and_agrees_with_constraints():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"]) + [d for ds in project["optional-dependencies"].values() for d in ds]
    declared = _pins(wanted)
    assert len(declared) == len(wanted), "every direct dependency is pinned with =="
    locked = _pins((ROOT / "constraints.txt").read_text().splitlines())
    for name, version in declared.items():
        assert locked.get(name) == version, f"{name}: pyproject {version}, constraints {locked.get(name)}"


def test_the_installer_pin_in_tasks_py_is_the_one_in_constraints():
    tasks = (ROOT / "tasks.py").read_text()
    pinned = re.search(r'^UV = "uv==([^"]+)"', tasks, re.M)
    assert pinned, "tasks.py pins uv"
    assert _pins((ROOT / "constraints.txt").read_text().splitlines())["uv"] == pinned.group(1)


def test_the_early_plugin_defers_rfc3987_syntax_and_iri_checks_still_work():
    import sys

    from jsonschema import Draft7Validator, FormatChecker

    import tests.early  # noqa: F401 - loaded first by pyproject's addopts; imported here to name it

    checker = Draft7Validator({"format": "iri"}, format_checker=FormatChecker())
    assert [e.message for e in checker.iter_errors("http://a b")] == ["'http://a b' is not a 'iri'"]
    assert not list(checker.iter_errors("http://example.org/ä"))
    assert sys.modules["rfc3987_syntax"] is not tests.early._STAND_IN, "the first check imported the real module"
