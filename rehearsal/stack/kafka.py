"""Apache Kafka (KRaft, combined broker/controller) and Kafka Connect as local JVM processes."""

from __future__ import annotations

import base64
import os
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests
import structlog
from confluent_kafka import IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from rehearsal.stack import connect_auth
from rehearsal.stack.endpoints import password_file
from rehearsal.stack.errors import CorruptStateError, StackError
from rehearsal.stack.jars import JarLayout, ensure_auth_jars, java_binary
from rehearsal.stack.process import ManagedProcess, ensure_port_free, port_open, wait_until
from rehearsal.stack.topology import BASIC_AUTH_EXTENSION, Topology

log = structlog.get_logger(__name__)

LOG4J2 = """\
status = warn
name = cutover
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.raft.name = org.apache.kafka.raft
logger.raft.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
"""

DEBEZIUM_CLASS = "io.debezium.connector.postgresql.PostgresConnector"


@dataclass(frozen=True, slots=True)
class JvmService:
    """One JVM component: its state folder, main class and properties."""

    name: str
    root: Path
    main_class: str
    heap: str
    port: int

    @property
    def properties_file(self) -> Path:
        return self.root / "config" / f"{self.name}.properties"

    def process(self, topology: Topology) -> ManagedProcess:
        return ManagedProcess(
            self.name,
            topology.state_dir / "run" / f"{self.name}.pid",
            topology.state_dir / "logs" / f"{self.name}.log",
        )

    def write_config(self, props: Mapping[str, str]) -> None:
        self.properties_file.parent.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.root / "config" / "log4j2.properties").write_text(LOG4J2)

    def argv(
        self,
        jars: JarLayout,
        *extra: str,
        properties: Mapping[str, str] | None = None,
        classpath: tuple[Path, ...] = (),
    ) -> list[str]:
        """The JVM command line; ``properties`` are ``-D`` system properties and
        ``classpath`` folders whose jars join Kafka's."""
        cp = ":".join([jars.classpath(), *(str(folder / "*") for folder in classpath)])
        return [
            java_binary(),
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.root / 'config' / 'log4j2.properties'}",
            *(f"-D{key}={value}" for key, value in (properties or {}).items()),
            "-cp",
            cp,
            self.main_class,
            *extra,
        ]


def kafka_service(topology: Topology) -> JvmService:
    return JvmService(
        "kafka",
        topology.state_dir / "kafka",
        "kafka.Kafka",
        topology.kafka.heap,
        topology.kafka.port,
    )


def connect_service(topology: Topology) -> JvmService:
    return JvmService(
        "connect",
        topology.state_dir / "connect",
        "org.apache.kafka.connect.cli.ConnectDistributed",
        topology.connect.heap,
        topology.connect.port,
    )


def kafka_properties(topology: Topology) -> dict[str, str]:
    k, host = topology.kafka, topology.host
    return {
        **k.server_settings(),
        "listeners": f"PLAINTEXT://{host}:{k.port},CONTROLLER://{host}:{k.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{k.port}",
        "controller.quorum.bootstrap.servers": f"{host}:{k.controller_port}",
        "log.dirs": str(topology.state_dir / "kafka" / "data"),
    }


def connect_properties(
    topology: Topology, jars: JarLayout, *, rest_auth: bool = False
) -> dict[str, str]:
    """The worker's properties; with ``rest_auth`` its REST API asks for basic auth."""
    props = {
        **topology.connect.worker_settings(),
        "bootstrap.servers": topology.bootstrap_servers,
        "listeners": f"http://{topology.host}:{topology.connect.port}",
        "rest.advertised.host.name": topology.host,
        "rest.advertised.port": str(topology.connect.port),
        "plugin.path": str(jars.plugin_path),
    }
    if rest_auth:
        props["rest.extension.classes"] = BASIC_AUTH_EXTENSION
    return props


def connect_environ(topology: Topology) -> dict[str, str]:
    """The worker's environment: the JVM's, plus the database password its ``env`` config
    provider hands to connectors (``${env:CUTOVER_PG_PASSWORD}``)."""
    password = password_file(topology)
    if not password.exists():
        raise StackError(f"connect: the database password file {password} is missing")
    return {**_jvm_env(), topology.connect.password_env: password.read_text().strip()}


def _cluster_id() -> str:
    """A KRaft cluster id; like Kafka's ``Uuid.randomUuid`` it never starts with ``-``, which
    the storage tool would read as an option (one id in 64 did, failing a first ``stack up``)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def check_storage(topology: Topology) -> bool:
    """True when the KRaft storage is formatted; a half-formatted folder is corrupt."""
    data = topology.state_dir / "kafka" / "data"
    meta = data / "meta.properties"
    if meta.exists():
        text = meta.read_text()
        if "cluster.id=" not in text or "node.id=" not in text:
            raise CorruptStateError(
                "kafka", str(data), "meta.properties lacks cluster.id or node.id"
            )
        return True
    if data.exists() and any(data.iterdir()):
        raise CorruptStateError(
            "kafka", str(data), "log data present but meta.properties is missing"
        )
    return False


def _format_storage(topology: Topology, jars: JarLayout, svc: JvmService) -> None:
    """Format the KRaft storage once."""
    if check_storage(topology):
        return
    data = topology.state_dir / "kafka" / "data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        *svc.argv(jars)[:-1],
        "kafka.tools.StorageTool",
        "format",
        "--standalone",
        "-t",
        _cluster_id(),
        "-c",
        str(svc.properties_file),
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StackError(
            f"formatting Kafka storage failed: {(proc.stderr or proc.stdout).strip()[-400:]}"
        )


def kafka_healthy(topology: Topology) -> bool:
    """True when the broker answers a metadata request."""
    if not port_open(topology.host, topology.kafka.port):
        return False
    admin = AdminClient(
        {"bootstrap.servers": topology.bootstrap_servers, "socket.timeout.ms": 2000}
    )
    try:
        md = admin.list_topics(timeout=3)
    except KafkaException:
        return False
    return bool(md.brokers)


def connect_healthy(topology: Topology) -> bool:
    """True when the worker's REST API answers and lists the Debezium Postgres plugin."""
    auth = connect_auth.credentials(topology)
    basic = (auth.username, auth.password.reveal()) if auth else None
    try:
        resp = requests.get(f"{topology.connect_url}/connector-plugins", timeout=3, auth=basic)
        return resp.ok and any(p.get("class") == DEBEZIUM_CLASS for p in resp.json())
    except (requests.RequestException, ValueError):
        return False


def start_kafka(topology: Topology, jars: JarLayout, timeout: float = 90.0) -> bool:
    svc = kafka_service(topology)
    proc = svc.process(topology)
    if proc.pid() is not None:
        return False
    ensure_port_free("kafka", topology.host, topology.kafka.port)
    ensure_port_free("kafka", topology.host, topology.kafka.controller_port)
    svc.write_config(kafka_properties(topology))
    _format_storage(topology, jars, svc)
    proc.start(svc.argv(jars, str(svc.properties_file)), env=_jvm_env())
    wait_until(
        "kafka",
        lambda: kafka_healthy(topology),
        timeout=timeout,
        log_file=proc.log_file,
        exited=proc.exit_code,
    )
    return True


def start_connect(topology: Topology, jars: JarLayout, timeout: float = 120.0) -> bool:
    svc = connect_service(topology)
    proc = svc.process(topology)
    if proc.pid() is not None:
        return False
    ensure_port_free("connect", topology.host, topology.connect.port)
    repair_hanging_transactions(topology, jars)
    launch_connect(topology, jars)
    wait_until(
        "connect",
        lambda: connect_healthy(topology),
        timeout=timeout,
        log_file=proc.log_file,
        exited=proc.exit_code,
    )
    return True


def launch_connect(
    topology: Topology, jars: JarLayout, overrides: Mapping[str, str] | None = None
) -> ManagedProcess:
    """Write the worker's files and start its JVM (not waiting): the ``env`` config provider
    with the database password in its environment, basic auth on its REST API when this
    state directory asks for it (:mod:`rehearsal.stack.connect_auth`). ``overrides`` are
    worker properties set over the stack's."""
    svc = connect_service(topology)
    rest_auth = connect_auth.enabled(topology)
    props = connect_properties(topology, jars, rest_auth=rest_auth)
    svc.write_config({**props, **(overrides or {})})
    properties = topology.connect.jvm_properties()
    extra_classpath: tuple[Path, ...] = ()
    if rest_auth:
        jaas = connect_auth.write_worker_files(topology, svc.properties_file.parent)
        properties["java.security.auth.login.config"] = str(jaas)
        extra_classpath = (ensure_auth_jars(topology),)
    argv = svc.argv(
        jars, str(svc.properties_file), properties=properties, classpath=extra_classpath
    )
    proc = svc.process(topology)
    proc.start(argv, env=connect_environ(topology))
    return proc


TRANSACTIONS_TOOL = "org.apache.kafka.tools.TransactionsCommand"


_STARTING_UP = frozenset(
    {
        KafkaError.UNKNOWN_LEADER_EPOCH,
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.OFFSET_NOT_AVAILABLE,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
    }
)
"""Errors a broker that has just started gives while it loads its partitions."""


def partitions_with_open_transactions(topology: Topology, timeout: float = 30.0) -> list[str]:
    """``topic-partition`` of every partition whose last stable offset is below its high
    watermark: some transaction on it is still open (in flight, or hanging). One pair of
    ``ListOffsets`` requests, so :func:`start_connect` runs the JVM transactions tool only
    when there may be something to abort.

    A broker that has just started answers some partitions with a retriable error (leader
    epoch not loaded yet): asked again until ``timeout``, then :class:`StackError`.
    """
    admin = AdminClient({"bootstrap.servers": topology.bootstrap_servers})
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _open_transactions(admin, timeout)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            retriable = isinstance(error, KafkaError) and (
                error.retriable() or error.code() in _STARTING_UP
            )
            if not retriable or time.monotonic() > deadline:
                raise StackError(f"kafka: cannot compare stable offsets: {exc}") from exc
            time.sleep(0.5)


def _open_transactions(admin: AdminClient, timeout: float) -> list[str]:
    topics = admin.list_topics(timeout=timeout).topics
    parts = [TopicPartition(t, p) for t, meta in topics.items() for p in meta.partitions]
    if not parts:
        return []

    def latest(level: IsolationLevel) -> dict[tuple[str, int], int]:
        futures = admin.list_offsets(
            {tp: OffsetSpec.latest() for tp in parts},  # type: ignore[no-untyped-call]
            isolation_level=level,
            request_timeout=timeout,
        )
        return {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}

    stable = latest(IsolationLevel.READ_COMMITTED)
    high = latest(IsolationLevel.READ_UNCOMMITTED)
    return sorted(f"{t}-{p}" for (t, p), offset in stable.items() if offset < high[(t, p)])


def repair_hanging_transactions(topology: Topology, jars: JarLayout) -> list[str]:
    """Before Connect starts: abort hanging transactions, running the JVM tool only when some
    partition has an open transaction, or when the probe itself cannot tell."""
    try:
        worth_looking = bool(partitions_with_open_transactions(topology))
    except StackError as exc:
        log.warning("open_transaction_probe_failed", error=str(exc))
        worth_looking = True
    return abort_hanging_transactions(topology, jars) if worth_looking else []


def abort_hanging_transactions(
    topology: Topology, jars: JarLayout, *, older_than_minutes: int = 0
) -> list[str]:
    """Abort transactions left open on the broker that their coordinator no longer knows.

    A broker restart while a Connect task (exactly-once source support) is between writing
    its records and committing can leave such a "hanging" transaction (KIP-664): the
    coordinator forgot it, so nobody ever aborts it, and every ``read_committed`` reader of
    that partition stops at its start, including the next Connect worker's reading of
    ``_connect_offsets`` at start-up, which then never finishes. Kafka's own
    ``TransactionsCommand`` finds them (``find-hanging``) and writes the abort markers
    (``abort``). Returns ``topic-partition@offset`` of each aborted one.
    """
    found = _transactions_tool(
        topology, jars, "find-hanging", "--broker-id", str(topology.kafka.node_id),
        "--max-transaction-timeout", str(older_than_minutes),
    )  # fmt: skip
    aborted: list[str] = []
    for line in found.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 6 or not cols[1].isdigit() or not cols[5].isdigit():
            continue
        topic, partition, start = cols[0], cols[1], cols[5]
        _transactions_tool(
            topology, jars, "abort", "--topic", topic, "--partition", partition,
            "--start-offset", start,
        )  # fmt: skip
        aborted.append(f"{topic}-{partition}@{start}")
    if aborted:
        log.warning("hanging_transactions_aborted", transactions=aborted)
    return aborted


def _transactions_tool(topology: Topology, jars: JarLayout, *args: str) -> str:
    bootstrap = f"{topology.host}:{topology.kafka.port}"
    argv = [java_binary(), "-Xmx256m", "-cp", jars.classpath(), TRANSACTIONS_TOOL,
            "--bootstrap-server", bootstrap, *args]  # fmt: skip
    try:
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=120, env=_jvm_env()
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"kafka transactions tool ({args[0]}) timed out after 120s") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise StackError(f"kafka transactions tool ({args[0]}) failed: {tail[0][:300]}")
    return done.stdout


def _jvm_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("KAFKA_OPTS", None)
    env.pop("JAVA_TOOL_OPTIONS", None)
    return env
