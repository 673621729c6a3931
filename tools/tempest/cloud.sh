#!/usr/bin/env bash
# A private computecloud for Tempest: its own database, Redis database, port and state
# directory, and two compute hosts on libvirt's in-memory test:///default hypervisor (real
# libvirt API, no guests to boot, so a run takes minutes rather than hours). Each host runs
# its network agent, which builds the project networks' bridges, namespaces, dnsmasq and
# nftables tables in this machine's kernel, under names of its own (NETWORK_PREFIX tp1, tp2:
# two agents on one kernel must not share a prefix) and files under TEMPEST_DIR/hosts/HOST.
# Both keep volumes in one directory, TEMPEST_DIR/volumes, declared shared (VOLUME_SHARED):
# on one machine it is what an NFS mount is to several, so a volume attaches on either host.
#
#   tools/tempest/cloud.sh start    create/migrate/bootstrap the database, start the processes
#   tools/tempest/cloud.sh stop     stop the processes this script started (by their pids) and
#                                   remove what the hosts' network agents built in the kernel
#   tools/tempest/cloud.sh status   which of them run
#   tools/tempest/cloud.sh reset    stop, then drop the database and flush its Redis database
#
# Settings come from .env (scripts/setup.sh writes it); these variables override the parts
# that must not collide with a running `scripts/run` or the test suite:
#   TEMPEST_DB (cc_tempest), TEMPEST_REDIS_DB (6), TEMPEST_PORT (8100),
#   TEMPEST_DIR (var/tempest: logs, pids, image store, instance directories).
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

# shellcheck source=tools/tempest/env.sh
source "$ROOT/tools/tempest/env.sh"
HOSTS=(tempest-1 tempest-2)
# The network agent's name prefix of each host, in the order of HOSTS.
NETWORK_PREFIXES=(tp1 tp2)
RUN="$TEMPEST_DIR/run"

psql_admin() { runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

# start_process NAME COMMAND...: run in its own session, remember the pid, log to a file.
start_process() {
  local name=$1
  shift
  if [[ -f "$RUN/$name.pid" ]] && kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then
    step "$name already runs (pid $(cat "$RUN/$name.pid"))"
    return
  fi
  setsid "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  step "started $name (pid $!), log $RUN/$name.log"
}

start() {
  mkdir -p "$RUN" "$STATE_DIR"
  if ! psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname='$TEMPEST_DB'" | grep -q 1; then
    step "creating database $TEMPEST_DB"
    runuser -u postgres -- createdb -O computecloud "$TEMPEST_DB"
  fi
  step "migrating and bootstrapping $TEMPEST_DB"
  "$PY" manage.py migrate --noinput -v 0
  "$PY" manage.py bootstrap --image "$GUEST_IMAGE" --host "${HOSTS[0]}" | grep -v password
  start_process web "$VENV/bin/gunicorn" computecloud.wsgi --bind "127.0.0.1:$TEMPEST_PORT" \
    --workers 2 --worker-class gthread --threads 4 --timeout 300 --access-logfile - \
    --no-control-socket
  start_process conductor "$VENV/bin/celery" -A computecloud worker -Q conductor,scheduler \
    -n "conductor-tempest@%h" --pool threads --concurrency 4 --without-gossip \
    --without-mingle -l INFO
  start_process beat "$VENV/bin/celery" -A computecloud beat -l INFO \
    --schedule "$RUN/celerybeat-schedule"
  start_process consoleproxy "$PY" manage.py consoleproxy
  local i host
  for i in "${!HOSTS[@]}"; do
    host=${HOSTS[$i]}
    mkdir -p "$TEMPEST_DIR/hosts/$host/instances" "$TEMPEST_DIR/hosts/$host/cache" \
      "$TEMPEST_DIR/volumes"
    start_process "compute-$host" env -u DATABASE_URL -u DB_PASSWORD -u SECRET_KEY \
      -u ADMIN_PASSWORD -u DEMO_PASSWORD COMPUTE_HOST="$host" LIBVIRT_URI=test:///default \
      INSTANCES_PATH="$TEMPEST_DIR/hosts/$host/instances" \
      IMAGE_CACHE_PATH="$TEMPEST_DIR/hosts/$host/cache" \
      NETWORK_PREFIX="${NETWORK_PREFIXES[$i]}" NETWORK_STATE_DIR="$TEMPEST_DIR/hosts/$host/network" \
      VOLUME_BACKEND=file VOLUME_PATH="$TEMPEST_DIR/volumes" VOLUME_SHARED=true \
      "$VENV/bin/celery" -A workers.compute.app worker -Q "compute.$host" -n "compute@$host" \
      --pool threads --concurrency 4 --without-gossip --without-mingle -l INFO
  done
  wait_for 60 "the API on port $TEMPEST_PORT" curl -sf "$PUBLIC_URL/identity/v3"
  step "waiting for the compute hosts to report"
  wait_for 90 "compute hosts ${HOSTS[*]}" hosts_up
  step "computecloud for Tempest runs at $PUBLIC_URL"
}

hosts_up() {
  "$PY" manage.py shell -c "
import sys
from apps.hosts.models import Service
from apps.placement.models import Inventory
wanted = set('${HOSTS[*]}'.split())
up = {s.host for s in Service.objects.filter(host__in=wanted) if s.is_up}
stocked = set(Inventory.objects.filter(provider__name__in=wanted).values_list('provider__name', flat=True))
sys.exit(0 if wanted <= up and wanted <= stocked else 1)
"
}

stop() {
  local pidfile name pid stopped=()
  for pidfile in "$RUN"/*.pid; do
    [[ -e "$pidfile" ]] || continue
    name=$(basename "$pidfile" .pid)
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      # Each process leads its own session (setsid), so the group is exactly its children.
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
      stopped+=("$pid")
      step "stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
  done
  # The hosts gone first: a sync still running would build again what is removed.
  for pid in "${stopped[@]}"; do
    wait_for 30 "the end of pid $pid" gone "$pid"
  done
  clear_networks
}

gone() { ! kill -0 "$1" 2>/dev/null; }

# What the hosts' network agents built in the kernel outlives them: an empty state applied
# with each host's prefix removes all of it (and nothing of another agent's).
clear_networks() {
  local i
  for i in "${!HOSTS[@]}"; do
    [[ -d "$TEMPEST_DIR/hosts/${HOSTS[$i]}/network" ]] || continue
    "$PY" -c "
import sys
from pathlib import Path
from workers.network.agent import NetworkAgent
from workers.network.config import NetworkAgentConfig
config = NetworkAgentConfig(prefix=sys.argv[1], state_dir=Path(sys.argv[2]))
NetworkAgent(config).apply({'networks': [], 'ports': [], 'routers': []})
" "${NETWORK_PREFIXES[$i]}" "$TEMPEST_DIR/hosts/${HOSTS[$i]}/network"
    step "removed the network state of ${HOSTS[$i]} (prefix ${NETWORK_PREFIXES[$i]})"
  done
}

status() {
  local pidfile
  for pidfile in "$RUN"/*.pid; do
    [[ -e "$pidfile" ]] || continue
    if kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "$(basename "$pidfile" .pid): running (pid $(cat "$pidfile"))"
    else
      echo "$(basename "$pidfile" .pid): dead"
    fi
  done
}

reset() {
  stop
  step "dropping database $TEMPEST_DB and flushing Redis database $TEMPEST_REDIS_DB"
  psql_admin -c "DROP DATABASE IF EXISTS \"$TEMPEST_DB\" WITH (FORCE)"
  local_redis -n "$TEMPEST_REDIS_DB" flushdb >/dev/null
  rm -rf "$TEMPEST_DIR/state" "$TEMPEST_DIR/hosts"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) reset ;;
  *) die "usage: $0 start|stop|status|reset" ;;
esac
