"""The production shape (docker-compose.yml, Dockerfile) is valid and runs real commands.

No Docker engine runs here, so the compose file is checked against the Compose specification
(the compose-spec package's validating parser), and every command it and the Dockerfile name is
checked against the `complaints` command itself.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose
from typer.testing import CliRunner

from api.cli.commands import cli
from api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, Any] = COMPOSE["services"]


def test_compose_file_follows_the_compose_specification() -> None:
    parsed = PyCompose.from_yaml(COMPOSE_TEXT)
    assert set(parsed.service_names()) == {"db", "api", "projector", "proxy"}


def test_compose_validator_rejects_a_broken_file() -> None:
    # The check above can fail: a misspelt key is refused.
    with pytest.raises(ValueError, match=r"replicaz|extension key"):
        PyCompose.from_yaml(COMPOSE_TEXT.replace("replicas:", "replicaz:"))


def test_postgres_has_a_volume_and_a_healthcheck() -> None:
    db = SERVICES["db"]
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert "pg_isready" in json.dumps(db["healthcheck"]["test"])
    assert "pgdata" in COMPOSE["volumes"]


def test_api_runs_as_two_replicas_behind_one_port() -> None:
    assert SERVICES["api"]["deploy"]["replicas"] == 2
    assert "ports" not in SERVICES["api"]  # replicas cannot share a host port ...
    assert SERVICES["proxy"]["ports"] == ["8000:8000"]  # ... the proxy holds it
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"server api:8000\b", nginx)
    assert "./deploy/nginx.conf:" in SERVICES["proxy"]["volumes"][0]


def test_projector_runs_external_projections() -> None:
    projector = SERVICES["projector"]
    assert projector["command"] == ["complaints", "project"]
    assert projector["environment"]["COMPLAINTS_PROJECTIONS"] == "external"
    assert SERVICES["api"]["environment"]["COMPLAINTS_PROJECTIONS"] == "external"


def test_postgres_has_room_for_every_pool_at_its_largest() -> None:
    command = SERVICES["db"]["command"]
    assert command[0] == "postgres"
    settings = dict(word.split("=", 1) for word in command[2::2])
    assert command[1::2] == ["-c"] * len(settings)
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    per_process = (
        defaults.postgres_pool_size + defaults.postgres_max_overflow + defaults.read_pool_size
    )
    workers = int(SERVICES["api"]["command"][SERVICES["api"]["command"].index("--workers") + 1])
    processes = SERVICES["api"]["deploy"]["replicas"] * workers + 1  # and the projector
    listening = 1  # the projector's connection that listens for new events
    assert processes * per_process + listening <= int(settings["max_connections"])


def _commands() -> list[list[str]]:
    commands = [
        service["command"]
        for service in SERVICES.values()
        if "command" in service and service.get("image", "").startswith("complaints-casework")
    ]
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert cmd is not None
    commands.append(json.loads(cmd.group(1)))
    return commands


@pytest.mark.parametrize("command", _commands(), ids=lambda c: shlex.join(c))
def test_every_command_exists_with_its_options(command: list[str]) -> None:
    assert command[0] == "complaints"
    subcommand, options = command[1], [word for word in command[2:] if word.startswith("--")]
    result = CliRunner().invoke(cli, [subcommand, "--help"])
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.output, f"{subcommand} has no option {option}"


def test_healthcheck_probes_a_real_endpoint() -> None:
    from api.app import create_app
    from api.settings import Settings

    probe = " ".join(SERVICES["api"]["healthcheck"]["test"])
    path = re.search(r"127\.0\.0\.1:8000(/[a-z/]+)", probe)
    assert path is not None
    app = create_app(Settings(_env_file=None), jwt_secret="unused")  # type: ignore[call-arg]
    assert path.group(1) in app.openapi()["paths"]


def test_dockerfile_copies_what_exists() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
