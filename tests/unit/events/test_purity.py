"""events is pure: importing its contract modules pulls in no I/O library."""

from __future__ import annotations

import subprocess
import sys

PURE = [
    "events.envelope",
    "events.commands",
    "events.codec",
    "events.structs",
    "events.upcasting",
    "events.compat",
    "events.errors",
    "events.contract_files",
    "events.compiled",
    "events.registry",
]
IO_LIBS = ["requests", "sqlalchemy", "psycopg", "confluent_kafka", "flask", "urllib3", "socket"]


def test_contract_modules_import_no_io_library() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in PURE)
        + f"print(sorted(set({IO_LIBS!r}) & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
