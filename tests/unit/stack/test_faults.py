"""The downstream-fault injector hands the fault to the system's hook (only the faulty
service); the sample's hook writes settings the legacy app reads (that service's error rate
and timeouts, nobody else's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from legacy_app.config import FaultSettings, load_config
from rehearsal.faults import inject
from rehearsal.sample import fault_env
from rehearsal.scenario import Fault, FaultKind


@dataclass
class FakeTarget:
    """Records the system fault hook's calls; nothing else is reached by this fault."""

    calls: list[tuple[str, float, float]] = field(default_factory=list)

    def service_fault(self, service: str, error_rate: float, timeout_rate: float = 0.0) -> str:
        self.calls.append((service, error_rate, timeout_rate))
        return f"{service}: faulted (only {service} restarted)"


def test_downstream_errors_go_to_the_systems_hook_for_the_faulty_service_only() -> None:
    target = FakeTarget()
    fault = Fault(
        kind=FaultKind.DOWNSTREAM_ERRORS, phase=4, service="inventory", error_rate=0.3,
        timeout_rate=0.05,
    )  # fmt: skip

    record = inject(target, fault)  # type: ignore[arg-type]

    assert target.calls == [("inventory", 0.3, 0.05)]
    assert record.kind == "downstream_errors" and "only inventory restarted" in record.detail


def test_the_samples_fault_settings_reach_only_the_faulty_service() -> None:
    env = fault_env({}, "inventory", 0.3, timeout_rate=0.05)

    config = load_config(environ=env)
    assert config.fault("inventory") == FaultSettings(error_rate=0.3, delay_rate=0.05)
    assert config.fault("inventory").delay_seconds > config.http_read_timeout
    for other in ("payment", "shipping", "email"):
        assert config.fault(other) == FaultSettings()


def test_clearing_the_samples_fault_keeps_the_other_services_settings() -> None:
    both = fault_env(fault_env({}, "payment", 0.2), "email", 0.1)

    assert fault_env(both, "payment", 0.0) == fault_env({}, "email", 0.1)
