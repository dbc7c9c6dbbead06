"""The container image, compose file and systemd unit cannot be built or started here (no
container registry is reachable), so this keeps them to what the tested path uses: the install
and run commands of tests/deploy/test_wheel_install.py, setting names bot/config.py knows, health
paths the server answers. The manifest is checked against Slack's published schema rules we
rely on, and .env.example / the README against the settings."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from bot.config import Settings
from bot.health import Health

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {str(f.validation_alias) for f in Settings.model_fields.values()}
# Variables the files may set that are not ours: Python's and PostgreSQL's image settings.
FOREIGN = {"PYTHONUNBUFFERED", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "PMBOT_DOMAIN"}
RUN_COMMAND = ["pmbot", "run"]  # what the wheel test runs (after `pmbot migrate`, which run does too)


def _served_paths() -> set[str]:
    health = Health(Settings(metrics_enabled=True))
    return {route.path for route in health.routes()} | {"/slack/events"}


def _urls_paths(text: str) -> set[str]:
    return set(re.findall(r"https?://127\.0\.0\.1:[^/'\"\s]*(/[\w/]+)", text))


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_builds_the_wheel_and_installs_it_as_the_test_does(dockerfile):
    steps = _instructions(dockerfile)
    stages = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    assert len(stages) == 2, "a build stage and a run stage"
    build, final = steps[stages[0]:stages[1]], steps[stages[1]:]
    python = re.search(r"PYTHON_VERSION=(\d+\.\d+)", dockerfile).group(1)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={python}", "the image runs the Python version the project is tested on"
    assert all("-slim" in args for word, args in steps if word == "FROM")
    runs_build = " ".join(args for word, args in build if word == "RUN")
    assert "pip wheel --no-deps" in runs_build
    runs_final = " ".join(args for word, args in final if word == "RUN")
    assert re.search(r"pip install [^&]*/dist/pmbot-\*\.whl", runs_final)
    assert not re.search(r"apt-get|apk |gcc|build-essential|pip wheel", runs_final), "no build tools in the image"
    users = [args for word, args in final if word == "USER"]
    assert users and users[-1] not in {"root", "0"}
    (cmd,) = [args for word, args in final if word == "CMD"]
    assert yaml.safe_load(cmd) == RUN_COMMAND
    envs = " ".join(args for word, args in final if word == "ENV")
    assert set(re.findall(r"([A-Z_]+)=", envs)) <= SETTINGS | FOREIGN
    (check,) = [args for word, args in final if word == "HEALTHCHECK"]
    assert "/healthz" in check and {"/healthz"} >= _urls_paths(check.replace("%s", "3000"))


def test_dockerfile_copies_what_the_wheel_is_built_from(dockerfile):
    copied = {name for word, args in _instructions(dockerfile) if word == "COPY" for name in args.split()[:-1]}
    from tests.deploy.helpers import SOURCES

    assert set(SOURCES) <= copied and all((ROOT / name).exists() for name in SOURCES)


def test_compose_runs_the_image_with_known_settings_postgres_and_two_replicas():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    bot = services["pmbot"]
    assert bot["build"] == "." and bot["command"] == RUN_COMMAND and bot["env_file"] == ".env"
    assert set(bot["environment"]) <= SETTINGS
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert bot["deploy"]["replicas"] == 2
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert _urls_paths(" ".join(bot["healthcheck"]["test"])) <= _served_paths()
    db = services["db"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"]) and any("pgdata:" in v for v in db["volumes"])
    assert set(db["environment"]) <= FOREIGN
    # One published entry point: the proxy, whose configuration ships with the repository.
    published = [name for name, svc in services.items() if svc.get("ports")]
    assert published == ["proxy"]
    caddyfile = next(v.split(":")[0] for v in services["proxy"]["volumes"] if "Caddyfile" in v)
    caddy = (ROOT / caddyfile).read_text()
    assert "name pmbot" in caddy and "port 3000" in caddy and "/slack/events" in caddy


def test_systemd_unit_runs_the_installed_command_with_known_settings():
    unit = (ROOT / "deploy" / "pmbot.service").read_text()
    values = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
    assert shlex.split(values["ExecStart"])[1:] == RUN_COMMAND[1:]
    assert Path(shlex.split(values["ExecStart"])[0]).name == "pmbot"
    assert values["User"] != "root" and "2" in values["RestartPreventExitStatus"].split()
    names = {m.split("=", 1)[0] for m in re.findall(r"^Environment=(\S+)", unit, re.M)}
    assert names <= SETTINGS
    assert "pip wheel --no-deps" in unit  # the install it documents is the tested one


def test_env_example_and_readme_name_every_setting_and_nothing_else():
    example = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert example == SETTINGS
    readme = (ROOT / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in SETTINGS)


def test_manifest_matches_slacks_schema_where_it_bit_us():
    text = (ROOT / "manifest.yml").read_text()
    manifest = yaml.safe_load(text)
    assert re.fullmatch(r"[\w\-.]+", manifest["features"]["bot_user"]["display_name"])
    urls = []

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and node.startswith("https://pmbot.example.com"):
            urls.append(node)

    walk(manifest)
    stated = int(re.search(r"in all (\d+) places", text).group(1))
    assert len(urls) == stated == len(manifest["features"]["slash_commands"]) + 3
    assert all(url == "https://pmbot.example.com/slack/events" for url in urls)
    # Pasted as it is, Slack verifies no URL: the quick start (Socket Mode) works before any server.
    assert manifest["settings"]["socket_mode_enabled"] is True
