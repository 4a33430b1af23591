"""docker-compose.yml is valid Compose and agrees with the local stack's topology."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import jsonschema
import pytest
import yaml

from rehearsal.stack.compose import (
    APP_SERVICES,
    COMPARE_CONTEXT,
    COMPOSE_PATH,
    INTERNAL_KAFKA_PORT,
    LIBPQ_PASSWORD_ENV,
    PASSWORD_ENV,
    PASSWORD_FILE,
    PASSWORD_SECRET,
    PLAN_ENV,
    SHADOW_GROUP,
    render_compose,
    secret_exec,
    with_password,
)
from rehearsal.stack.topology import REPO_ROOT, Topology

_SHARED_SCHEMA = REPO_ROOT.parent / "shared" / "schemas" / "compose-spec.json"
SCHEMA_PATH = (
    _SHARED_SCHEMA
    if _SHARED_SCHEMA.exists()
    else REPO_ROOT / "tests" / "data" / "compose-spec.json"
)
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
# Compose interpolation: the file holds none ("$$" is a literal "$" Compose leaves).
ANY_REF = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_]")
FAKE_PASSWORD = 'p@ss w:rd/$x"q'  # any password: it is in no URL, so it need not be URL-safe
# The containers of the cutover image that talk to Postgres (everything but topics-init).
POSTGRES_CLIENTS = {
    "app-init",
    *APP_SERVICES,
    "connector-apply",
    "shadow",
    "comparator",
    "rehearse",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_PATH.read_text())
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string (mapping keys included) of the document, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}/{key}#key", str(key)
            yield from _strings(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}/{i}")
    elif isinstance(node, str):
        yield path, node


def _cutover_argv(service: dict[str, Any]) -> list[str] | None:
    """The arguments given to the image's ``cutover`` entry point, run directly or by the
    password wrapper (None: another program)."""
    if service.get("entrypoint", ["cutover"])[-1:] != ["cutover"]:
        return None
    return [str(a) for a in service.get("command", [])]


def _run_wrapper(
    entrypoint: list[str], secret: Path, *command: str
) -> subprocess.CompletedProcess[str]:
    """``entrypoint`` + ``command`` as a container runs them, with ``secret`` as the secret file."""
    argv = [a.replace("$$", "$").replace(PASSWORD_FILE, str(secret)) for a in entrypoint]
    env = {"PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [*argv, *command], env=env, capture_output=True, text=True, check=False, timeout=30
    )


def _resolve(argv: list[str]) -> tuple[click.Command, click.Context]:
    """Parse ``cutover <argv>`` down to its leaf command without invoking anything."""
    from phases.cli import cli

    command: click.Command = cli
    name, args, parent = "cutover", list(argv), None
    while True:
        ctx = command.make_context(name, args, parent=parent)
        if not isinstance(command, click.Group):
            return command, ctx
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        found_name, found, args = command.resolve_command(ctx, rest)
        assert found is not None and found_name is not None
        name, command, parent = found_name, found, ctx


# --- the file itself ---------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft7Validator(schema)

    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]

    assert errors == []


def test_committed_compose_file_is_what_the_topology_generates() -> None:
    assert COMPOSE_PATH.read_text() == render_compose(Topology())


def test_compose_has_the_whole_topology(services: dict[str, Any]) -> None:
    assert set(services) == {
        "postgres",
        "kafka",
        "connect",
        "app-init",
        *APP_SERVICES,
        "topics-init",
        "connector-apply",
        "shadow",
        "comparator",
        "rehearse",
    }


def test_every_image_is_pinned_to_an_exact_version(services: dict[str, Any]) -> None:
    pulled = {s["image"] for s in services.values() if "build" not in s}

    assert pulled == {
        "postgres:15.18",
        "apache/kafka:4.3.0",
        "quay.io/debezium/connect:3.6.1.Final",
    }  # a new version is a deliberate change of this test and of the topology


def test_the_header_says_replication_factor_one_is_for_rehearsal_only() -> None:
    header = [line for line in COMPOSE_PATH.read_text().splitlines() if line.startswith("#")]

    assert any("FOR REHEARSAL ONLY" in line and "replication factor 1" in line for line in header)


def test_the_broker_creates_no_topic_on_first_use(services: dict[str, Any]) -> None:
    env = services["kafka"]["environment"]

    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert Topology().kafka.server_settings()["auto.create.topics.enable"] == "false"


# --- infrastructure agrees with the local stack -------------------------------------------


def test_compose_services_use_the_topology_versions(services: dict[str, Any]) -> None:
    topo = Topology()

    assert services["postgres"]["image"] == f"postgres:{topo.postgres_version}"
    assert topo.postgres_version.startswith(f"{topo.postgres_major}.")  # a minor release
    assert services["kafka"]["image"] == f"apache/kafka:{topo.kafka_version}"
    assert services["connect"]["image"].endswith(f":{topo.debezium_version}")


def test_compose_publishes_the_local_stack_ports(services: dict[str, Any]) -> None:
    topo = Topology()

    assert services["postgres"]["ports"] == [f"{topo.postgres.port}:5432"]
    assert services["kafka"]["ports"] == [f"{topo.kafka.port}:{topo.kafka.port}"]
    assert services["connect"]["ports"] == [f"{topo.connect.port}:8083"]


def test_compose_postgres_runs_with_the_local_stack_server_settings(
    services: dict[str, Any],
) -> None:
    command = services["postgres"]["command"]
    pairs = {command[i + 1] for i, arg in enumerate(command) if arg == "-c"}

    assert pairs == {f"{k}={v}" for k, v in Topology().postgres.server_settings().items()}


def test_compose_kafka_carries_every_broker_setting_of_the_local_stack(
    services: dict[str, Any],
) -> None:
    env = services["kafka"]["environment"]

    for key, value in Topology().kafka.server_settings().items():
        if key == "listener.security.protocol.map":
            continue  # compose adds an EXTERNAL listener for the host
        assert env["KAFKA_" + key.upper().replace(".", "_")] == value, key


def test_compose_connect_carries_every_worker_setting_of_the_local_stack(
    services: dict[str, Any],
) -> None:
    env = services["connect"]["environment"]
    settings = Topology().connect.worker_settings()

    assert env["GROUP_ID"] == settings.pop("group.id")
    assert env["OFFSET_STORAGE_TOPIC"] == settings.pop("offset.storage.topic")
    assert env["CONFIG_STORAGE_TOPIC"] == settings.pop("config.storage.topic")
    assert env["STATUS_STORAGE_TOPIC"] == settings.pop("status.storage.topic")
    for key, value in settings.items():
        assert env["CONNECT_" + key.upper().replace(".", "_")] == value, key


# --- the application services agree with the local stack ----------------------------------


def test_topology_app_ports_are_the_legacy_app_defaults() -> None:
    from legacy_app.config import DEFAULT_PORTS
    from legacy_app.orderflow.effects import SERVICE_PORTS
    from legacy_app.wsgi import SERVICES

    ports = Topology().app.ports()

    assert ports == DEFAULT_PORTS
    assert tuple(ports) == SERVICES == APP_SERVICES
    assert {s: p for s, p in ports.items() if s != "order"} == SERVICE_PORTS


def test_compose_publishes_every_app_port_of_the_local_stack(services: dict[str, Any]) -> None:
    for service, port in Topology().app.ports().items():
        svc = services[service]
        assert svc["ports"] == [f"{port}:{port}"], service
        assert svc["command"][svc["command"].index("--bind") + 1] == f"0.0.0.0:{port}", service
        assert f"http://127.0.0.1:{port}/health" in svc["healthcheck"]["test"][-1], service


def test_compose_runs_gunicorn_with_the_local_runner_arguments(
    services: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cutover_common.secrets import Secret
    from legacy_app import runner

    captured: dict[str, list[str]] = {}

    class FakePopen:
        pid = 4242

        def __init__(self, cmd: list[str], **_: Any) -> None:
            captured[cmd[-1]] = cmd

    monkeypatch.setattr(subprocess, "Popen", FakePopen)  # the module runner spawns with
    spec = runner.RunSpec(run_dir=tmp_path, database_url=Secret("sqlite://"))
    assert spec.threads == Topology().app.threads

    for service in APP_SERVICES:
        runner._spawn(spec, service, {})
        local = captured[f'legacy_app.wsgi:create("{service}")']
        svc = services[service]
        assert svc["entrypoint"] == with_password("gunicorn")["entrypoint"]
        assert Path(local[0]).name == "gunicorn"
        local_args = [a.replace(spec.host, "0.0.0.0") for a in local[1:]]
        assert svc["command"] == local_args, service


def test_legacy_services_read_the_compose_addresses(services: dict[str, Any]) -> None:
    from legacy_app.config import load_config

    topo = Topology()
    for service in APP_SERVICES:
        config = load_config(environ=services[service]["environment"])
        assert config.kafka_bootstrap_servers == f"kafka:{INTERNAL_KAFKA_PORT}", service
        for downstream in APP_SERVICES[1:]:
            port = topo.app.ports()[downstream]
            assert config.service_url(downstream) == f"http://{downstream}:{port}", service
        url = urlsplit(config.database_url)
        assert (url.hostname, url.port, url.password) == ("postgres", 5432, None)


def test_shadow_workers_read_the_compose_addresses(services: dict[str, Any]) -> None:
    from shadow.config import ShadowConfig

    config = ShadowConfig.from_env(services["shadow"]["environment"])

    assert config.bootstrap_servers == f"kafka:{INTERNAL_KAFKA_PORT}"
    assert urlsplit(config.dsn.reveal()).password is None  # libpq's PGPASSWORD
    assert config.app == "legacy_app.orderflow.app:app"
    assert services["shadow"]["deploy"]["replicas"] == Topology().app.shadow_replicas == 2


def test_every_database_address_names_the_topology_database_and_user(
    services: dict[str, Any],
) -> None:
    pg = Topology().postgres
    seen = 0
    for name, svc in services.items():
        env = svc.get("environment", {})
        for key, value in env.items():
            if str(value).startswith("postgresql"):
                url = urlsplit(value)
                assert (url.username, url.hostname, url.port) == (pg.user, "postgres", 5432), key
                assert url.path == f"/{pg.database}", f"{name}: {key}"
                seen += 1
        if "CUTOVER_PG_USER" in env:
            assert (env["CUTOVER_PG_USER"], env["CUTOVER_PG_DATABASE"]) == (pg.user, pg.database)
    assert services["postgres"]["environment"]["POSTGRES_USER"] == pg.user
    assert services["postgres"]["environment"]["POSTGRES_DB"] == pg.database
    assert seen == len(APP_SERVICES) + 4  # the apps, app-init, connector-apply, shadow, comparator


# --- secrets ------------------------------------------------------------------------------


def test_compose_holds_no_interpolation_and_no_password(compose: dict[str, Any]) -> None:
    for where, text in _strings(compose):
        assert not ANY_REF.search(text.replace("$$", "")), f"{where}: interpolated"
        if where.endswith("#key"):
            continue
        if "@" in text and "://" in text:  # a URL with credentials: the user, never a password
            userinfo = text.split("://", 1)[1].rsplit("@", 1)[0]
            assert ":" not in userinfo, where
        assert not re.search(r"\bpassword=", text, flags=re.IGNORECASE), where  # libpq DSN
        if any(word in where.rsplit("/", 1)[-1].upper() for word in ("PASSWORD", "SECRET")):
            assert text == PASSWORD_FILE, where


def test_only_the_secret_and_connect_name_the_password_variable(compose: dict[str, Any]) -> None:
    places = {where for where, text in _strings(compose) if PASSWORD_ENV in text}

    assert places == {
        f"/secrets/{PASSWORD_SECRET}/environment",  # the one place its value enters
        "/services/connect/entrypoint/2",  # the variable Connect's wrapper exports
        "/services/connect/environment/CONNECT_CONFIG_PROVIDERS_ENV_PARAM_ALLOWLIST_PATTERN",
        "/configs/compare-plan/content",  # the connector's ${env:...} reference
    }


def test_every_postgres_client_mounts_the_secret_and_takes_pgpassword_from_it(
    services: dict[str, Any],
) -> None:
    with_url = {
        name
        for name, svc in services.items()
        if any(str(v).startswith("postgresql") for v in svc.get("environment", {}).values())
    }
    assert with_url <= POSTGRES_CLIENTS
    assert POSTGRES_CLIENTS - with_url == {"rehearse"}  # builds its own URLs from CUTOVER_PG_*

    for name, svc in services.items():
        if name in POSTGRES_CLIENTS:
            assert svc["secrets"] == [PASSWORD_SECRET], name
            assert svc["entrypoint"][:4] == secret_exec(LIBPQ_PASSWORD_ENV), name
            assert LIBPQ_PASSWORD_ENV not in svc.get("environment", {}), name
        elif name not in ("postgres", "connect"):
            assert "secrets" not in svc, name


def test_the_wrapper_exports_the_secret_and_runs_the_command_as_given(tmp_path: Path) -> None:
    secret = tmp_path / PASSWORD_SECRET
    secret.write_text(FAKE_PASSWORD)
    show = "import os, sys; print(repr((os.environ['PGPASSWORD'], sys.argv[1:])))"
    args = ["arg with  spaces", 'create("order")', "", "$HOME", "--x=*"]

    ran = _run_wrapper(secret_exec(LIBPQ_PASSWORD_ENV), secret, sys.executable, "-c", show, *args)

    assert (ran.returncode, ran.stderr) == (0, "")
    assert ast.literal_eval(ran.stdout) == (FAKE_PASSWORD, args)


def test_the_wrapper_runs_nothing_without_the_secret(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    ran = _run_wrapper(secret_exec(LIBPQ_PASSWORD_ENV), tmp_path / "absent", "touch", str(marker))

    assert ran.returncode != 0
    assert "absent" in ran.stderr  # cat's one line names the missing file
    assert not marker.exists()


def test_the_password_secret_comes_from_the_environment(compose: dict[str, Any]) -> None:
    assert compose["secrets"] == {PASSWORD_SECRET: {"environment": PASSWORD_ENV}}


def test_postgres_reads_the_password_from_the_secret_file(services: dict[str, Any]) -> None:
    postgres = services["postgres"]

    assert postgres["secrets"] == [PASSWORD_SECRET]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == PASSWORD_FILE
    assert "POSTGRES_PASSWORD" not in postgres["environment"]


def test_connect_gets_the_password_only_in_its_workers_environment(
    services: dict[str, Any],
) -> None:
    connect = services["connect"]
    env = connect["environment"]

    assert connect["secrets"] == [PASSWORD_SECRET]
    assert connect["entrypoint"] == [*secret_exec(PASSWORD_ENV), "/docker-entrypoint.sh", "start"]
    assert env["CONNECT_CONFIG_PROVIDERS"] == "env"
    assert env["CONNECT_CONFIG_PROVIDERS_ENV_PARAM_ALLOWLIST_PATTERN"] == PASSWORD_ENV
    assert "automatic.config.providers" in env["KAFKA_OPTS"]
    assert not [v for v in env.values() if "${" in str(v)]  # no password interpolated


def test_the_compose_plans_connector_names_the_password_by_reference(plan_file: Path) -> None:
    from phases.outbox_connectors import application_connector, connector_config
    from phases.plan import load_plan

    connector = application_connector(load_plan(plan_file))
    config = connector_config(connector, "postgresql+psycopg://u:pw@postgres:5432/db", {})

    assert config["database.password"] == "${env:" + PASSWORD_ENV + "}"


# --- wiring -------------------------------------------------------------------------------


def test_every_depends_on_target_exists_and_can_meet_its_condition(
    services: dict[str, Any],
) -> None:
    for name, svc in services.items():
        for target, spec in svc.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            assert "profiles" not in services[target] or "profiles" in svc, (name, target)
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health"
            if spec["condition"] == "service_completed_successfully":
                assert services[target]["restart"] == "no", f"{target} must be one-shot"


def test_topics_exist_and_the_connector_runs_before_shadow_and_comparator_start(
    services: dict[str, Any],
) -> None:
    done = {"condition": "service_completed_successfully"}

    assert services["connector-apply"]["depends_on"]["topics-init"] == done
    assert services["connector-apply"]["depends_on"]["app-init"] == done  # its outbox table
    for name in ("shadow", "comparator"):
        assert services[name]["depends_on"]["connector-apply"] == done, name
    assert _cutover_argv(services["topics-init"])[:2] == ["topics", "ensure"]  # type: ignore[index]
    assert "apply" in (_cutover_argv(services["connector-apply"]) or [])


def test_shadow_metrics_listen_on_every_interface_inside_the_container(
    services: dict[str, Any],
) -> None:
    shadow = services["shadow"]
    port = str(Topology().app.shadow_metrics_port)

    assert shadow["environment"]["CUTOVER_SHADOW_METRICS_HOST"] == "0.0.0.0"
    assert shadow["expose"] == [port]
    assert port in shadow["command"]


def test_rehearse_gets_the_compose_stack_addresses(services: dict[str, Any]) -> None:
    topo = Topology()
    env = services["rehearse"]["environment"]

    assert env == {
        "CUTOVER_STACK": "external",
        "CUTOVER_PG_HOST": "postgres",
        "CUTOVER_PG_PORT": "5432",
        "CUTOVER_PG_USER": topo.postgres.user,
        "CUTOVER_PG_DATABASE": topo.postgres.database,
        "CUTOVER_KAFKA_BOOTSTRAP_SERVERS": f"kafka:{INTERNAL_KAFKA_PORT}",
        "CUTOVER_CONNECT_URL": "http://connect:8083",
    }
    assert services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"].startswith(
        f"PLAINTEXT://{env['CUTOVER_KAFKA_BOOTSTRAP_SERVERS']},"
    )


def test_rehearse_runs_once_on_demand_after_everything_else(services: dict[str, Any]) -> None:
    rehearse = services["rehearse"]
    long_running = {n for n, s in services.items() if s.get("restart") != "no"} - {"postgres"}

    assert rehearse["restart"] == "no"
    assert rehearse["profiles"] == ["rehearse"]
    assert set(rehearse["depends_on"]) >= long_running | {"postgres"}


def test_cutover_image_services_are_built_from_the_dockerfile(services: dict[str, Any]) -> None:
    built = {n for n, s in services.items() if "build" in s}

    assert built == {
        "app-init",
        *APP_SERVICES,
        "topics-init",
        "connector-apply",
        "shadow",
        "comparator",
        "rehearse",
    }
    for name in built:
        assert services[name]["image"] == "cutover:local"
        assert (REPO_ROOT / services[name]["build"]["context"] / "Dockerfile").is_file()


# --- commands name real code --------------------------------------------------------------


@pytest.fixture
def plan_file(compose: dict[str, Any], tmp_path: Path) -> Path:
    """The comparator's plan (the inline ``compare-plan`` config) as a file."""
    path = tmp_path / "plan.yaml"
    path.write_text(compose["configs"]["compare-plan"]["content"].replace("$$", "$"))
    return path


@pytest.mark.parametrize(
    "name", ["topics-init", "connector-apply", "shadow", "comparator", "rehearse"]
)
def test_compose_commands_are_real_cutover_commands(
    services: dict[str, Any], name: str, plan_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO_ROOT)  # the image's WORKDIR holds the repository's files
    argv = _cutover_argv(services[name])
    assert argv, f"{name} runs the image's cutover entry point"
    for mount in services[name].get("configs", []):  # mounted files exist in the container
        argv = [str(plan_file) if a == mount["target"] else a for a in argv]

    command, ctx = _resolve(argv)

    assert command.callback is not None
    assert ctx.params  # the options parsed, with their types checked


def test_comparator_plan_is_a_valid_migration_plan(plan_file: Path) -> None:
    from phases.plan import load_plan

    plan = load_plan(plan_file)

    assert set(plan.contexts) == {COMPARE_CONTEXT}
    assert plan.system.database.url_env == PLAN_ENV
    assert plan.contexts[COMPARE_CONTEXT].consumer_group == SHADOW_GROUP


def test_comparator_plan_resolves_for_the_comparator(
    services: dict[str, Any], plan_file: Path
) -> None:
    from comparators.invariants import resolve_all
    from phases.compare_config import compare_config
    from phases.plan import load_plan

    comparator = services["comparator"]
    argv = comparator["command"]
    env = comparator["environment"]

    config = compare_config(load_plan(plan_file), argv[argv.index("--context") + 1], env=env)

    assert config.context == COMPARE_CONTEXT
    assert len(resolve_all(config.invariants)) == len(config.invariants) == 5
    assert argv[argv.index("--state-db-env") + 1] in env
    assert comparator["configs"] == [
        {"source": "compare-plan", "target": argv[argv.index("--plan") + 1]}
    ]


def test_comparator_and_shadow_workers_agree_on_topic_and_group(
    services: dict[str, Any], plan_file: Path
) -> None:
    from shadow.config import ShadowConfig

    plan = yaml.safe_load(plan_file.read_text())["contexts"][COMPARE_CONTEXT]
    shadow = ShadowConfig.from_env(services["shadow"]["environment"])

    assert shadow.topics == (plan["topic"]["name"],)
    assert shadow.group_id == plan["consumer_group"]
    assert shadow.app == plan["shadow"]["app"]
    assert plan["topic"]["partitions"] == Topology().kafka.num_partitions


def test_gunicorn_targets_name_real_services(services: dict[str, Any]) -> None:
    from legacy_app import wsgi

    for service in APP_SERVICES:
        target = services[service]["command"][-1]
        module, call = target.split(":")
        assert importlib.import_module(module) is wsgi
        assert call == f'create("{service}")' and service in wsgi.FACTORIES


def test_app_init_script_calls_real_functions(services: dict[str, Any]) -> None:
    init = services["app-init"]
    assert init["entrypoint"][:-1] == with_password("python", "-c")["entrypoint"]
    tree = ast.parse(init["entrypoint"][-1])

    imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    for node in imports:
        module = importlib.import_module(str(node.module))
        for alias in node.names:
            assert callable(getattr(module, alias.name)), f"{node.module}.{alias.name}"
    assert {n.module for n in imports} == {"legacy_app.schema", "legacy_app.seed"}
    assert "CUTOVER_DATABASE_URL" in init["environment"]


# --- Dockerfile and .dockerignore ---------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def test_dockerfile_entrypoint_is_the_cutover_console_script() -> None:
    from phases import cli

    instructions = dict(_instructions())
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())

    assert json.loads(instructions["ENTRYPOINT"]) == ["cutover"]
    assert pyproject["project"]["scripts"]["cutover"] == "phases.cli:main"
    assert callable(cli.main) and isinstance(cli.cli, click.Group)
    assert json.loads(instructions["CMD"]) == ["--help"]


def test_dockerfile_builds_a_slim_python_image_as_a_non_root_user() -> None:
    instructions = _instructions()
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())

    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert pyproject["project"]["requires-python"] == ">=3.11"
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert [op for op, _ in instructions].index("USER") > max(
        i for i, (op, _) in enumerate(instructions) if op == "RUN"
    )


def test_dockerfile_installs_the_exact_pins_of_pyproject() -> None:
    runs = " ".join(arg for op, arg in _instructions() if op == "RUN")
    deps = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]

    assert "['project']['dependencies']" in runs and "--requirement" in runs
    assert "pip install --no-deps ." in runs
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][^,;<>=]*", d) for d in deps), deps


def test_rehearse_keeps_its_state_in_a_volume(services: dict[str, Any]) -> None:
    env_line = dict(_instructions())["ENV"]
    env = dict(pair.split("=", 1) for pair in env_line.split())

    assert services["rehearse"]["volumes"] == [f"rehearsals:{env['CUTOVER_STATE_DIR']}"]


def test_dockerignore_keeps_local_state_and_caches_out_of_the_image() -> None:
    ignored = {ln.strip() for ln in DOCKERIGNORE.read_text().splitlines()}

    for entry in (".cutover/", ".venv/", ".git/", "**/__pycache__/", ".mypy_cache/"):
        assert entry in ignored, entry
    for entry in (".ruff_cache/", ".pytest_cache/", ".hypothesis/"):
        assert entry in ignored, entry
