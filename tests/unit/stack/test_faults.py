"""The downstream-fault injector restarts only the faulty service, with settings the
legacy app reads (error rate and timeouts of that service, nobody else's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from legacy_app.config import FaultSettings, load_config
from rehearsal.faults import inject
from rehearsal.scenario import Fault, FaultKind


@dataclass
class FakeTarget:
    """Records app restarts; nothing else is reached by this fault."""

    restarts: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def restart_service(self, service: str, fault_env: dict[str, str]) -> None:
        self.restarts.append((service, dict(fault_env)))


def test_downstream_errors_restart_only_the_faulty_service_with_its_fault() -> None:
    target = FakeTarget()
    fault = Fault(
        kind=FaultKind.DOWNSTREAM_ERRORS,
        phase=4,
        service="inventory",
        error_rate=0.3,
        timeout_rate=0.05,
    )

    record = inject(target, fault)  # type: ignore[arg-type]

    assert [service for service, _ in target.restarts] == ["inventory"]
    config = load_config(environ=target.restarts[0][1])
    assert config.fault("inventory") == FaultSettings(error_rate=0.3, delay_rate=0.05)
    assert config.fault("inventory").delay_seconds > config.http_read_timeout
    for other in ("payment", "shipping", "email"):
        assert config.fault(other) == FaultSettings()
    assert record.kind == "downstream_errors" and "only inventory restarted" in record.detail
