#!/usr/bin/env bash
# Make sure the Redis the tests use (127.0.0.1:6379: the sign-in limiter's shared
# storage) is up; starts a local one when it is down. Never skips: if Redis cannot be
# reached the Redis test fails, as CI requires.
set -u
host=127.0.0.1 port=6379
if command -v redis-cli >/dev/null 2>&1 && redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; then
  exit 0
fi
if command -v redis-server >/dev/null 2>&1; then
  redis-server --bind "$host" --port "$port" --daemonize yes --save '' --appendonly no >/dev/null 2>&1 || true
  for _ in $(seq 1 30); do
    redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1 && exit 0
    sleep 1
  done
fi
echo "warning: Redis at $host:$port is not reachable; the Redis test will fail" >&2
exit 0
