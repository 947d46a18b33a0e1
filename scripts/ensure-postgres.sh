#!/usr/bin/env bash
# Make sure the PostgreSQL the tests use is up (CLAIMS_TEST_POSTGRES_URL, default the
# machine's local server). Starts the local cluster when it is down. Never skips:
# if the server cannot be reached the PostgreSQL tests fail, as CI requires.
set -u
host=127.0.0.1 port=5432
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$host" -p "$port"; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  done
  for _ in $(seq 1 30); do
    pg_isready -q -h "$host" -p "$port" && exit 0
    sleep 1
  done
fi
echo "warning: PostgreSQL at $host:$port is not reachable; the PostgreSQL tests will fail" >&2
exit 0
