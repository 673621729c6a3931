# The private cloud's settings, shared by cloud.sh and run.sh. Sourced after scripts/lib.sh.
# shellcheck shell=bash
TEMPEST_DIR=${TEMPEST_DIR:-$ROOT/var/tempest}
TEMPEST_DB=${TEMPEST_DB:-cc_tempest}
TEMPEST_REDIS_DB=${TEMPEST_REDIS_DB:-6}
TEMPEST_PORT=${TEMPEST_PORT:-8100}

case $TEMPEST_REDIS_DB in
  0 | 1 | 2 | 3 | 4 | 5 | 12) die "Redis database $TEMPEST_REDIS_DB is used by the system or its tests" ;;
esac
[[ -f "$ROOT/.env" ]] || die "no .env: run scripts/setup.sh first"
set -a
# shellcheck disable=SC1091
. "$ROOT/.env"
set +a

export DATABASE_URL="postgres://computecloud:${DB_PASSWORD}@127.0.0.1:5432/${TEMPEST_DB}"
# .env's Redis, its password included, in the private cloud's own database.
export REDIS_URL="${REDIS_URL%/*}/${TEMPEST_REDIS_DB}"
export CELERY_BROKER_URL=$REDIS_URL CELERY_RESULT_BACKEND=$REDIS_URL
export CACHE_URL=$REDIS_URL CACHE_KEY_PREFIX=cctempest
export PUBLIC_URL="http://127.0.0.1:${TEMPEST_PORT}"
export STATE_DIR="$TEMPEST_DIR/state"
export CONSOLE_PROXY_PORT=$((TEMPEST_PORT + 80))
export CONSOLE_PROXY_URL="http://127.0.0.1:${CONSOLE_PROXY_PORT}"
export METADATA_PORT=$((TEMPEST_PORT + 75))
export DB_CONN_MAX_AGE=0 LOG_LEVEL=INFO PYTHONUNBUFFERED=1
# Tempest's resize tests confirm or revert themselves; hosts beat every 2 seconds.
export RESIZE_CONFIRM_WINDOW=0 REPORT_INTERVAL=2 CLEAN_SHUTDOWN_TIMEOUT=5
