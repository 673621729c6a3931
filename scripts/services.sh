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

if ! redis-cli -h 127.0.0.1 ping 2>/dev/null | grep -q PONG; then
  step "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --dir /var/lib/redis \
    --logfile /var/log/redis/computecloud.log
fi
wait_for 30 Redis sh -c 'redis-cli -h 127.0.0.1 ping | grep -q PONG'

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
