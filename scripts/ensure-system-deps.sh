#!/usr/bin/env bash
# Install the system packages cutover needs when they are missing (Debian): Java 17+ and Maven
# for Kafka/Connect/Debezium jars, PostgreSQL server binaries. Python packages come from PyPI
# through the Makefile's virtualenv; jars from Maven Central through rehearsal/stack/maven/.
set -euo pipefail
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "error: missing ${need[*]} — install them (as root: apt-get install -y ${need[*]})" >&2
  exit 1
fi
echo "==> installing ${need[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
