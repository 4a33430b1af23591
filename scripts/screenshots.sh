#!/usr/bin/env bash
# Screenshots of the reports for docs/ (run by hand after a rehearsal; not part of make test):
#   docs/rehearsal-report.png  the rehearsal report (rehearsal.html) of a run
#   docs/gate-evidence.png     the evidence page (evidence.html) of one of its gates
# Usage: scripts/screenshots.sh [RUN_DIR] [EVIDENCE_HTML]
#   RUN_DIR defaults to the newest .cutover/rehearsals/<run>/ holding a rehearsal.html;
#   EVIDENCE_HTML to the newest dual-write gate bundle of that run.
# Needs Chromium (Debian: apt-get install -y chromium); headless, offline, no sandbox.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state="${CUTOVER_STATE_DIR:-$root/.cutover}"
run_dir="${1:-$(ls -td "$state"/rehearsals/*/ 2>/dev/null | while read -r d; do
  [ -f "$d/rehearsal.html" ] && { echo "$d"; break; }; done)}"
[ -n "$run_dir" ] && [ -f "$run_dir/rehearsal.html" ] || {
  echo "error: no rehearsal report found (run: cutover rehearse)" >&2; exit 1; }
evidence="${2:-$(ls -td "$run_dir"/reports/*phase3-dual_write*/ 2>/dev/null | head -1)evidence.html}"
[ -f "$evidence" ] || { echo "error: no gate evidence page under $run_dir/reports" >&2; exit 1; }
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[ -n "$browser" ] || { echo "error: Chromium not found (apt-get install -y chromium)" >&2; exit 1; }

# Render both pages again from their JSON, so the screenshots show the current templates.
"$root/.venv/bin/python" - "$run_dir" "$(dirname "$evidence")" <<'PY'
import json, sys
from pathlib import Path
from phases.evidence import render_html as evidence_html
from rehearsal.summary import render_html as rehearsal_html
run, bundle = Path(sys.argv[1]), Path(sys.argv[2])
(run / "rehearsal.html").write_text(rehearsal_html(json.loads((run / "rehearsal.json").read_text()), run))
(bundle / "evidence.html").write_text(evidence_html(json.loads((bundle / "evidence.json").read_text()), bundle))
PY

shot() {  # shot <html> <png> <height>
  local profile
  profile="$(mktemp -d)"
  "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --screenshot="$2" \
    --window-size="1280,$3" "file://$(realpath "$1")" >/dev/null 2>&1
  rm -rf "$profile"
  echo "wrote $2 from $1"
}

shot "$run_dir/rehearsal.html" "$root/docs/rehearsal-report.png" "${REPORT_HEIGHT:-2400}"
shot "$evidence" "$root/docs/gate-evidence.png" "${EVIDENCE_HEIGHT:-1100}"
