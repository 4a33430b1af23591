"""Refuse dangerous connector configuration unless it is explicitly allowed.

Three categories, each allowed separately:

* ``jndi`` — a JNDI login module or lookup in a connector config
  (``sasl.jaas.config=...JndiLoginModule...``, ``${jndi:ldap://...}``): the
  CVE-2023-25194 class, remote code execution through client overrides.
* ``jaas`` — any other ``sasl.jaas.config`` or SASL callback handler class set
  in a connector config (arbitrary classes and credentials on the worker).
* ``config_providers`` — ``config.providers*`` keys, or ``${file:...}``,
  ``${env:...}``, ``${directory:...}`` (any ``${provider:...}``) references,
  which read files or the environment of the worker.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from cdc.errors import DangerousConfig
from cutover_common.secrets import Secret

JNDI = "jndi"
JAAS = "jaas"
CONFIG_PROVIDERS = "config_providers"
CATEGORIES = (JNDI, JAAS, CONFIG_PROVIDERS)

_JNDI_VALUE = re.compile(
    r"JndiLoginModule|\$\{\s*jndi\s*:|\bjndi:(ldap|rmi|dns|iiop|corba|nds|nis)", re.I
)
_PROVIDER_REF = re.compile(r"\$\{\s*(?P<provider>[A-Za-z0-9_.-]+)\s*:[^}]*\}")
_JAAS_KEYS = re.compile(
    r"(^|\.)(sasl\.jaas\.config|sasl\.(client|login)\.callback\.handler\.class|sasl\.login\.class)$"
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One dangerous setting: its category, the key, and why."""

    category: str
    key: str
    reason: str


def scan(config: Mapping[str, str | Secret]) -> list[Finding]:
    """Every dangerous setting in ``config`` (values are inspected, never reported)."""
    findings: list[Finding] = []
    for key, raw in sorted(config.items()):
        value = raw.reveal() if isinstance(raw, Secret) else str(raw)
        if _JNDI_VALUE.search(value):
            findings.append(Finding(JNDI, key, "JNDI login module or lookup"))
        elif _JAAS_KEYS.search(key):
            findings.append(Finding(JAAS, key, "JAAS login configuration in a connector config"))
        is_provider_key = key == "config.providers" or key.startswith("config.providers.")
        if is_provider_key and value.strip():
            findings.append(Finding(CONFIG_PROVIDERS, key, "config provider declared"))
        for match in _PROVIDER_REF.finditer(value):
            if match["provider"].lower() != "jndi":
                findings.append(
                    Finding(CONFIG_PROVIDERS, key, f"${{{match['provider']}:...}} reference")
                )
    return findings


def check(name: str, config: Mapping[str, str | Secret], allow: Collection[str] = ()) -> None:
    """Raise :class:`DangerousConfig` for findings whose category is not in ``allow``."""
    unknown = set(allow) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown allow categories {sorted(unknown)}; use {list(CATEGORIES)}")
    refused = [f for f in scan(config) if f.category not in allow]
    if refused:
        raise DangerousConfig(name, [(f.category, f.key, f.reason) for f in refused])
