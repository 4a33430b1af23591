"""``cutover topics list|diff|ensure``: the plan's Kafka topics, created before use.

The broker creates no topic on first use (``auto.create.topics.enable=false``), so a team
pre-creates what the plan uses (:mod:`phases.plan_topics`) with ``ensure`` (``cutover
advance`` into phase 2 does the same), or with its own tooling, checking with ``diff``.
Each function takes a :class:`~phases.commands.CommandConfig` and returns the exit code;
``admin`` (a :class:`~phases.ports.TopicAdmin`) is built from the plan when not given.
"""

from __future__ import annotations

from collections.abc import Sequence

from cutover_common.errors import InvalidInput
from cutover_common.exit_codes import ExitCode
from cutover_common.topics import KafkaTopicAdmin, TopicSpecValue, missing_topics
from phases.adapters_kafka import kafka_config
from phases.commands import CommandConfig
from phases.plan import load_plan
from phases.plan_topics import PlannedTopic, plan_topics
from phases.ports import TopicAdmin


def extra_topic(text: str) -> PlannedTopic:
    """``NAME`` or ``NAME:PARTITIONS`` (``--topic``): a topic the plan cannot know, e.g. a
    shadow outbox's follow-up events."""
    name, _, partitions = text.partition(":")
    if not name or (partitions and not partitions.isdigit()) or partitions == "0":
        raise InvalidInput(f"--topic {text!r}: give NAME or NAME:PARTITIONS (PARTITIONS >= 1)")
    return PlannedTopic(TopicSpecValue(name, int(partitions or 1)), "given with --topic")


def _planned(config: CommandConfig, extra: Sequence[str]) -> list[PlannedTopic]:
    topics = plan_topics(load_plan(config.plan_path))
    names = {t.spec.name for t in topics}
    return topics + [t for t in map(extra_topic, extra) if t.spec.name not in names]


def _admin(config: CommandConfig, admin: TopicAdmin | None) -> TopicAdmin:
    if admin is not None:
        return admin
    return KafkaTopicAdmin(kafka_config(load_plan(config.plan_path), config.environ))


def topics_list(
    config: CommandConfig, *, extra: Sequence[str] = (), admin: TopicAdmin | None = None
) -> int:
    """Print every topic the plan uses, what for, and whether the broker has it."""
    planned = _planned(config, extra)
    existing = _admin(config, admin).existing_topics()
    rows = [{**t.to_dict(), "exists": t.spec.name in existing} for t in planned]
    if config.json:
        config.emit({"topics": rows})
        return ExitCode.OK
    for row in rows:
        state = "present" if row["exists"] else "missing"
        config.stdout.write(
            f"{row['name']}  partitions={row['partitions']} "
            f"replication={row['replication_factor']}  {state}  ({row['purpose']})\n"
        )
    return ExitCode.OK


def topics_diff(
    config: CommandConfig, *, extra: Sequence[str] = (), admin: TopicAdmin | None = None
) -> int:
    """Print the topics the plan uses that the broker lacks: exit 0 when none, else 11."""
    planned = _planned(config, extra)
    by_name = {t.spec.name: t for t in planned}
    missing = missing_topics([t.spec for t in planned], _admin(config, admin).existing_topics())
    if config.json:
        config.emit({"missing": [by_name[s.name].to_dict() for s in missing]})
    else:
        for spec in missing:
            config.stdout.write(f"missing: {spec.name} ({by_name[spec.name].purpose})\n")
        if not missing:
            config.stdout.write("every topic the plan uses exists\n")
    return ExitCode.DRIFT if missing else ExitCode.OK


def topics_ensure(
    config: CommandConfig,
    *,
    extra: Sequence[str] = (),
    dry_run: bool = False,
    admin: TopicAdmin | None = None,
) -> int:
    """Create the plan's missing topics (never alter an existing one); ``dry_run`` prints
    what would be created."""
    planned = _planned(config, extra)
    kafka = _admin(config, admin)
    specs = [t.spec for t in planned]
    if dry_run:
        names = [s.name for s in missing_topics(specs, kafka.existing_topics())]
    else:
        names = kafka.ensure_topics(specs)
    if config.json:
        config.emit({"created": [] if dry_run else names, "would_create": names if dry_run else []})
        return ExitCode.OK
    verb = "would create" if dry_run else "created"
    for name in names:
        config.stdout.write(f"{verb}: {name}\n")
    config.stdout.write(f"{len(names)} {verb}, {len(planned) - len(names)} existed\n")
    return ExitCode.OK
