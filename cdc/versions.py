"""Which REST calls and options each Kafka Connect version offers.

The client asks the worker its version once (``GET /``) and checks a feature
here before calling it, so an older worker gives a clear
:class:`~cdc.errors.UnsupportedByWorker` instead of a bare 404 or 405.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdc.errors import UnsupportedByWorker


@dataclass(frozen=True, slots=True, order=True)
class Version:
    """A Kafka version, compared by (major, minor, patch)."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> Version:
        """``"4.3.0"``, ``"3.9.1-SNAPSHOT"``, ``"7.6.0-ccs"`` -> comparable numbers."""
        match = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", text)
        if not match:
            raise ValueError(f"not a Kafka version: {text!r}")
        return cls(int(match[1]), int(match[2]), int(match[3] or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


# feature -> the first Apache Kafka version whose Connect REST API offers it.
FEATURES: dict[str, Version] = {
    "connector topics": Version(2, 5),
    "expand connector list": Version(2, 3),
    "restart with includeTasks/onlyFailed (KIP-745)": Version(3, 0),
    "connector plugin config (KIP-769)": Version(3, 2),
    "stop connector (KIP-875)": Version(3, 5),
    "get offsets (KIP-875)": Version(3, 5),
    "alter offsets (KIP-875)": Version(3, 6),
    "reset offsets (KIP-875)": Version(3, 6),
    "create with initial_state (KIP-980)": Version(3, 7),
    "cluster-wide logger levels (KIP-976)": Version(3, 7),
    "patch connector config (KIP-477)": Version(3, 8),
    "worker health (KIP-1017)": Version(3, 9),
}


def require(feature: str, worker_version: str) -> None:
    """Raise :class:`UnsupportedByWorker` when ``worker_version`` predates ``feature``."""
    needed = FEATURES[feature]
    try:
        have = Version.parse(worker_version)
    except ValueError:
        return  # unknown scheme: let the worker answer for itself
    if have < needed:
        raise UnsupportedByWorker(feature, worker_version, str(needed))


def supports(feature: str, worker_version: str) -> bool:
    try:
        require(feature, worker_version)
    except UnsupportedByWorker:
        return False
    return True
