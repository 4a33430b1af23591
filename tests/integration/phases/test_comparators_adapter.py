"""The comparators-backed comparison port on the real Postgres (control vs event vs verify)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text

from phases.adapters_comparators import ComparatorsInvariants, ComparatorsRunner
from phases.plan import parse_plan
from rehearsal.stack.endpoints import Endpoints

SAMPLE = Path(__file__).resolve().parents[3] / "phases" / "examples" / "sample-plan.yaml"
COLUMNS = "order_id, correlation_id, status, total, produced_at"


def test_comparison_runner_reads_both_sides_and_writes_comparators_evidence(
    endpoints: Endpoints, fresh_database: str, tmp_path: Path
) -> None:
    url = endpoints.database_url(fresh_database)
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in ("sync_out", "event_out", "verify_out"):
            conn.execute(
                text(
                    f"CREATE TABLE {table} (order_id text, correlation_id text, "
                    "status text, total numeric(12,2), produced_at timestamptz)"
                )
            )
            conn.execute(
                text(
                    f"INSERT INTO {table} SELECT 'o' || lpad(g::text, 3, '0'), 'c' || g, 'completed', "
                    "10.00 + g, now() - interval '2 minutes' FROM generate_series(1, 40) g"
                )
            )
        conn.execute(text("UPDATE event_out SET status = 'failed' WHERE order_id = 'o007'"))
        # Phase 4 compares the event path (authoritative) with the verify-mode results.
        conn.execute(text("UPDATE verify_out SET status = 'failed' WHERE order_id = 'o007'"))
    engine.dispose()
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    data["reports_dir"] = str(tmp_path / "reports")
    data["contexts"]["payment"]["outcome"] = {
        "key": "order_id",
        "sync_query": f"SELECT {COLUMNS} FROM sync_out",
        "event_query": f"SELECT {COLUMNS} FROM event_out",
        "verify_query": f"SELECT {COLUMNS} FROM verify_out",
    }
    data["contexts"]["payment"]["compare"] = {"settle_seconds": 0}
    data["contexts"]["payment"]["invariants"] = []
    data["gates"]["dual_write"].update({"min_settled_keys": 10, "max_divergent": 5})
    data["gates"]["async"].update(
        {"min_settled_keys": 10, "min_match_rate": 0.8, "warn_match_rate": 0.7}
    )
    plan = parse_plan(data)
    runner = ComparatorsRunner(plan, {"LEGACY_DATABASE_URL": url})

    event = runner.compare("payment", candidate="event", window_seconds=600, min_keys=10)
    assert (event.settled_keys, event.matched) == (40, 39)
    assert event.counts.get("divergent") == 1
    assert event.verdict in {"warn", "fail"}
    assert event.samples and event.samples[0]["key"] == "o007"
    assert any(p.endswith("report.html") for p in event.report_paths)
    assert all(Path(p).exists() for p in event.report_paths)

    verify = runner.compare("payment", candidate="verify", window_seconds=600, min_keys=10)
    assert (verify.settled_keys, verify.matched, verify.verdict) == (40, 40, "pass")

    low = runner.compare("payment", candidate="verify", window_seconds=600, min_keys=1000)
    assert low.verdict == "low-confidence"

    older = runner.compare("payment", candidate="event", window_seconds=60, min_keys=10)
    assert (older.settled_keys, older.verdict) == (0, "low-confidence")  # all 2 minutes old

    assert ComparatorsInvariants(plan, {"LEGACY_DATABASE_URL": url}).check("payment", [], 60) == []
