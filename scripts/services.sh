#!/usr/bin/env bash
# Starts PostgreSQL, Redis, virtlogd and libvirtd unless already running, and waits for each.
# There is no systemd on these machines: each daemon is started by hand. Idempotent.
source "$(dirname "$0")/lib.sh"

if ! pg_isready -q -h 127.0.0.1; then
  step "starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
wait_for 60 PostgreSQL pg_isready -q -h 127.0.0.1

# Redis asks every client for REDIS_PASSWORD (set-up writes it into .env, and REDIS_URL with
# it). The password never goes on a command line: redis-server reads it from its standard
# input, redis-cli from REDISCLI_AUTH (local_redis).
redis_password=$(env_get REDIS_PASSWORD)
[[ -n $redis_password ]] || die "no REDIS_PASSWORD in .env: run scripts/setup.sh"
anonymous=$(redis-cli -h 127.0.0.1 -p 6379 ping 2>&1 || true)
if [[ $anonymous == PONG ]]; then
  # Running without a password (started before this version, or by hand): ask for it now.
  # Clients already connected stay connected; new ones must authenticate.
  step "Redis runs without a password: setting REDIS_PASSWORD (requirepass)"
  printf 'CONFIG SET requirepass %s\n' "$redis_password" | redis-cli -h 127.0.0.1 -p 6379 >/dev/null
elif [[ $anonymous == *NOAUTH* ]]; then
  local_redis ping 2>/dev/null | grep -q PONG ||
    die "Redis on 127.0.0.1:6379 asks for another password than REDIS_PASSWORD in .env"
else
  step "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  printf 'requirepass %s\n' "$redis_password" |
    redis-server - --daemonize yes --bind 127.0.0.1 --port 6379 --dir /var/lib/redis \
      --logfile /var/log/redis/computecloud.log
fi
redis_up() { local_redis ping 2>/dev/null | grep -q PONG; }
wait_for 30 "Redis (with REDIS_PASSWORD)" redis_up

if ! pgrep -x virtlogd >/dev/null; then
  step "starting virtlogd"
  mkdir -p /var/log/libvirt
  virtlogd -d
fi
if ! virsh -c qemu:///system version >/dev/null 2>&1; then
  if ! pgrep -x libvirtd >/dev/null; then
    step "starting libvirtd"
    libvirtd -d
  fi
  # libvirtd -d returns at once even when its QEMU driver fails: poll until it answers.
  wait_for 90 "libvirtd (see /var/log/libvirt/libvirtd.log)" virsh -c qemu:///system version
fi
step "services up: PostgreSQL, Redis, virtlogd, libvirtd"
