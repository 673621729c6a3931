# Shared helpers for the set-up scripts. Sourced, not run.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
# The unprivileged user the control-plane processes run as (docs/operations.md).
SERVICE_USER=computecloud
# The password of this machine's local Redis, shared by every checkout on it (scripts/setup.sh).
MACHINE_REDIS_PASSWORD=/etc/computecloud/redis-password
export DEBIAN_FRONTEND=noninteractive

step() { printf -- '--> %s\n' "$*" >&2; }
die() { printf -- 'error: %s\n' "$*" >&2; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what did not come up within the deadline"
    sleep 0.2
  done
}

# env_get KEY: a value from .env (empty if unset).
env_get() {
  [[ -f "$ROOT/.env" ]] || return 0
  sed -n "s/^$1=//p" "$ROOT/.env" | tail -n 1
}

# env_default KEY VALUE: add KEY=VALUE to .env unless KEY is already there.
env_default() {
  touch "$ROOT/.env"
  grep -q "^$1=" "$ROOT/.env" || printf '%s=%s\n' "$1" "$2" >>"$ROOT/.env"
}

# env_set KEY VALUE: set KEY=VALUE in .env, replacing the line there is (one rename, so a
# reader sees the old file or the new one; mode and owner kept).
env_set() {
  if grep -q "^$1=" "$ROOT/.env" 2>/dev/null; then
    local value=${2//\\/\\\\}
    value=${value//&/\\&}
    value=${value//|/\\|}
    sed -i "s|^$1=.*|$1=$value|" "$ROOT/.env"
  else
    env_default "$1" "$2"
  fi
}

# local_redis ARG...: redis-cli against the Redis services.sh runs, with .env's password
# (passed in the environment: a command line is visible to every user in `ps`).
local_redis() {
  local password
  password=$(env_get REDIS_PASSWORD)
  if [[ -n $password ]]; then
    REDISCLI_AUTH=$password redis-cli -h 127.0.0.1 -p 6379 "$@"
  else
    redis-cli -h 127.0.0.1 -p 6379 "$@"
  fi
}
