#!/usr/bin/env bash
# The README's test command (`make test`): lint, type-check, then unit and integration
# tests on the real local stack. Starts what the stack lacks and stops only what it started.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
start=$(date +%s)
status=0

echo "==> ruff and mypy"
$BIN/ruff check . && $BIN/ruff format --check . && $BIN/mypy || status=1

echo "==> starting the local stack (Postgres, Kafka KRaft, Kafka Connect + Debezium)"
mkdir -p .cutover
if ! $BIN/cutover stack up --json > .cutover/test-stack.json; then
  echo "the local stack did not come up; see \`cutover stack status\` and the logs in .cutover/logs" >&2
  exit 1
fi
started=$($BIN/python -c 'import json; print(" ".join("--only " + c["name"] for c in json.load(open(".cutover/test-stack.json"))["components"] if c["started"]))')

echo "==> pytest (unit + integration)"
$BIN/pytest tests --durations=15 "$@"
rc=$?
[ $rc -eq 5 ] && { echo "no tests ran: that is a failure" >&2; rc=1; }
[ $rc -ne 0 ] && status=1

if [ -n "$started" ]; then
  echo "==> stopping what this run started"
  # shellcheck disable=SC2086
  $BIN/cutover stack down $started
fi
echo "make test took $(( $(date +%s) - start ))s"
exit $status
