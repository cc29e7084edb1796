"""compose.yaml and the Dockerfile must stay true to the CLI and the settings (Docker cannot run here,
so this is what keeps them honest)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dlserve.cli import app
from dlserve.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
DLSERVE_SERVICES = {name: svc for name, svc in COMPOSE["services"].items() if svc.get("build")}


def options_of(command: list[str]) -> list[str]:
    return [part for part in command if part.startswith("--")]


@pytest.mark.parametrize("service", sorted(DLSERVE_SERVICES))
def test_compose_commands_are_real_cli_commands_with_real_options(service: str) -> None:
    command = DLSERVE_SERVICES[service]["command"]
    assert command[0] == "dlserve"
    result = CliRunner().invoke(app, [*command[1:2], "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in options_of(command):
        assert re.search(rf"{re.escape(option)}\b", result.output), f"{service}: {option} is not an option"


def test_compose_settings_are_real_settings() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for name, service in DLSERVE_SERVICES.items():
        for variable in service["environment"]:
            assert variable.startswith("DLSERVE_"), (name, variable)
            assert variable.removeprefix("DLSERVE_") in fields, f"{name}: {variable} is not a setting"


def test_dockerfile_defaults_are_real_settings_and_runs_the_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    fields = {name.upper() for name in Settings.model_fields}
    for variable in re.findall(r"(DLSERVE_[A-Z_]+)=", dockerfile):
        assert variable.removeprefix("DLSERVE_") in fields, variable
    assert 'CMD ["dlserve", "serve"]' in dockerfile


def test_api_and_workers_share_the_same_settings() -> None:
    api, worker = DLSERVE_SERVICES["api"], DLSERVE_SERVICES["worker"]
    assert api["environment"] == worker["environment"]
    assert api["environment"]["DLSERVE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert api["environment"]["DLSERVE_STORAGE_URL"].startswith("s3://")
