#!/usr/bin/env bash
# Starts the machine's PostgreSQL when it is down (the integration tests need it).
set -u
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "PostgreSQL is down: starting it"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  else
    echo "PostgreSQL is not installed here; PostgreSQL tests will be skipped" >&2
  fi
fi
exit 0
