"""A rehearsal on a fresh state directory: nothing read before the stack exists is kept."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rehearsal.environment import RehearsalEnvironment
from rehearsal.scenario import load_scenario
from rehearsal.stack.endpoints import password_file
from rehearsal.stack.kafka import _cluster_id
from rehearsal.stack.topology import Topology


def test_endpoints_read_after_the_stack_wrote_its_password_carry_it(tmp_path: Path) -> None:
    topology = replace(Topology(), state_dir=tmp_path)
    env = RehearsalEnvironment(topology, load_scenario("default"), "fresh1")
    assert env.endpoints.pg_password.reveal() == ""  # before the first `stack up`

    pw = password_file(topology)
    pw.parent.mkdir(parents=True)
    pw.write_text("s3cret-generated\n")
    env.refresh_endpoints()

    assert env.endpoints.pg_password.reveal() == "s3cret-generated"
    assert "password=s3cret-generated " in env.workers.spec.env["CUTOVER_SHADOW_DSN"]
    assert ":s3cret-generated@" in env.database_url()


def test_kraft_cluster_ids_never_start_with_a_dash() -> None:
    ids = [_cluster_id() for _ in range(5000)]
    assert not [i for i in ids if i.startswith("-")]
    assert len(set(ids)) == 5000
    assert all(len(i) == 22 for i in ids)
