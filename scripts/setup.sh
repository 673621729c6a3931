#!/usr/bin/env bash
# Brings a fresh Debian 12 machine (root) to a ready computecloud: system packages, services,
# virtualenv, local settings with generated secrets, database, guest image, bootstrap data.
# Idempotent: run it again and it only does what is missing.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
started=$SECONDS

[[ $EUID -eq 0 ]] || die "run as root: it installs packages and starts system daemons"

"$ROOT/scripts/install-system.sh"

# --- the message bus's password: generated once, before services.sh makes Redis ask for it ------
# REDIS_URL carries it. An older .env's password-less local URL is rewritten in this same step,
# so that whoever reads .env next gets the URL Redis accepts; any other URL is the operator's.
# The local Redis is the machine's, not one checkout's: its password is also kept in
# $MACHINE_REDIS_PASSWORD (root only), so that another checkout on the same machine (a CI
# clone) takes the password that Redis already asks for instead of making a new one.
umask 077
redis_password=$(env_get REDIS_PASSWORD)
if [[ -z $redis_password && -s $MACHINE_REDIS_PASSWORD ]]; then
  redis_password=$(cat "$MACHINE_REDIS_PASSWORD")
fi
if [[ -z $redis_password ]]; then
  redis_password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
fi
env_default REDIS_PASSWORD "$redis_password"
if [[ ! -s $MACHINE_REDIS_PASSWORD ]]; then
  mkdir -p "$(dirname "$MACHINE_REDIS_PASSWORD")"
  printf '%s\n' "$redis_password" >"$MACHINE_REDIS_PASSWORD"
fi
redis_url=$(env_get REDIS_URL)
if [[ -z $redis_url ]]; then
  env_default REDIS_URL "redis://:${redis_password}@127.0.0.1:6379/0"
elif [[ $redis_url =~ ^redis://(127\.0\.0\.1|localhost)(:6379)?/([0-9]+)$ ]]; then
  env_set REDIS_URL "redis://:${redis_password}@127.0.0.1:6379/${BASH_REMATCH[3]}"
fi
umask 022
"$ROOT/scripts/services.sh"

# --- virtualenv: pinned, hash-checked requirements --------------------------------------------
stamp="$VENV/.requirements.sha256"
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [[ ! -x "$PY" ]]; then
  step "creating the virtualenv in .venv"
  python3 -m venv "$VENV"
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  step "installing Python requirements (hash-checked)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q --require-hashes -r requirements.txt -r requirements-dev.txt
  echo "$want" >"$stamp"
fi

# --- the service user must reach the code and the virtualenv's interpreter ---------------------
# A virtualenv made from an interpreter under a private home (pyenv in /root) is out of its
# reach: it gets traverse-only access (an ACL, x) to each directory on the way that refuses it.
grant_traverse() {
  local path=$1 dir=""
  local -a parts
  IFS=/ read -r -a parts <<<"${path#/}"
  for part in "${parts[@]}"; do
    dir="$dir/$part"
    [[ -d $dir ]] || break
    runuser -u "$SERVICE_USER" -- test -x "$dir" || setfacl -m "u:$SERVICE_USER:x" "$dir"
  done
}
grant_traverse "$(sed -n 's/^home = //p' "$VENV/pyvenv.cfg")"
grant_traverse "$ROOT"
runuser -u "$SERVICE_USER" -- "$PY" -c "import django" ||
  die "user $SERVICE_USER cannot run $PY: the project and its interpreter must be readable"

# --- local settings: secrets generated once into .env (git ignores it) --------------------------
gen() { "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))'; }
umask 077
db_password=$(env_get DB_PASSWORD)
[[ -n "$db_password" ]] || db_password=$(gen)
env_default SECRET_KEY "$(gen)"
env_default DB_PASSWORD "$db_password"
env_default DATABASE_URL "postgres://computecloud:${db_password}@127.0.0.1:5432/computecloud"
env_default ADMIN_PASSWORD "$(gen)"
env_default DEMO_PASSWORD "$(gen)"
env_default COMPUTE_HOST "$(hostname -s)"
env_default LIBVIRT_URI "qemu:///system"
env_default INSTANCES_PATH "/var/lib/computecloud/instances"
env_default IMAGE_CACHE_PATH "/var/lib/computecloud/image-cache"
env_default METADATA_SHARED_SECRET "$(gen)"
umask 022

# --- database: a role with CREATEDB (the test suite creates its own database) -------------------
step "ensuring the PostgreSQL role and database"
runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -d postgres <<SQL >/dev/null
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'computecloud') THEN
    CREATE ROLE computecloud LOGIN CREATEDB PASSWORD '${db_password}';
  ELSE
    ALTER ROLE computecloud LOGIN CREATEDB PASSWORD '${db_password}';
  END IF;
END \$\$;
SQL
if ! runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_database WHERE datname='computecloud'" | grep -q 1; then
  runuser -u postgres -- createdb -O computecloud computecloud
fi

# --- the dashboard's front-end packages, exactly as package-lock.json pins them -----------------
lock_stamp="node_modules/.package-lock.sha256"
want_lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ "$(cat "$lock_stamp" 2>/dev/null)" != "$want_lock" ]]; then
  step "installing the dashboard's front-end packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want_lock" >"$lock_stamp"
fi

step "applying migrations"
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py collectstatic --noinput -v 0

# --- the guest image and the virtualisation type --------------------------------------------------
step "building (or finding cached) guest image tinyos"
image=$("$ROOT/tools/guest_image/build.sh" | tail -n 1)
env_default GUEST_IMAGE "$image"
if [[ -z "$(env_get VIRT_TYPE)" ]]; then
  step "detecting whether KVM boots a guest here (falls back to qemu/TCG)"
  env_default VIRT_TYPE "$("$PY" tools/detect_virt_type.py --image "$image")"
fi
step "virtualisation type: $(env_get VIRT_TYPE)"

step "bootstrapping: admin, demo project, flavors, this compute host, image tinyos"
"$PY" manage.py bootstrap --image "$image"

# --- who may read and write what (docs/operations.md, "Who runs as whom") ----------------------
# After everything above wrote as root. The service user reads .env but cannot change what
# root's processes read; writes only the image store and its run directory; never the
# instance directories. The openrc files (admin's password) stay root's. var/run holds what the
# processes write besides images (beat's schedule).
step "ownership: .env, state directory, image store, instance directories"
chown "root:$SERVICE_USER" .env
chmod 0640 .env
state_dir=$(env_get STATE_DIR)
state_dir=${state_dir:-var}
[[ $state_dir == /* ]] || state_dir="$ROOT/$state_dir"
install -d -o root -g "$SERVICE_USER" -m 0750 "$ROOT/var" "$state_dir"
install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0750 "$state_dir/images" "$ROOT/var/run"
chown -R "$SERVICE_USER:$SERVICE_USER" "$state_dir/images"
install -d -o root -g root -m 0700 "$(env_get INSTANCES_PATH)" "$(env_get IMAGE_CACHE_PATH)"

step "set-up done in $((SECONDS - started)) s"
