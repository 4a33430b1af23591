"""``import cutover`` is the documented API: light, documented, free of samples and rehearsal."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import cutover

DOC = Path(__file__).resolve().parents[3] / "docs" / "app-sdk.md"


def test_every_exported_class_and_function_is_documented_on_its_page() -> None:
    page = DOC.read_text()
    for name in cutover.__all__:
        obj = getattr(cutover, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"cutover.{name} has no docstring"
    for name in ("emit", "Outbox", "configure", "correlation_scope", "InvalidEvent"):
        assert name in page, f"docs/app-sdk.md does not mention {name}"


def test_importing_cutover_loads_no_sample_rehearsal_or_web_framework() -> None:
    code = (
        "import json, sys, cutover; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)))
    assert not loaded & {"legacy_app", "rehearsal", "flask", "shadow", "comparators"}
