#!/usr/bin/env bash
# Brings a fresh Debian 12 machine (root) to a ready computecloud: system packages, services,
# virtualenv, local settings with generated secrets, database, guest image, bootstrap data.
# Idempotent: run it again and it only does what is missing.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
started=$SECONDS

[[ $EUID -eq 0 ]] || die "run as root: it installs packages and starts system daemons"

"$ROOT/scripts/install-system.sh"
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

# --- local settings: secrets generated once into .env (git ignores it) --------------------------
gen() { "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))'; }
umask 077
db_password=$(env_get DB_PASSWORD)
[[ -n "$db_password" ]] || db_password=$(gen)
env_default SECRET_KEY "$(gen)"
env_default DB_PASSWORD "$db_password"
env_default DATABASE_URL "postgres://computecloud:${db_password}@127.0.0.1:5432/computecloud"
env_default REDIS_URL "redis://127.0.0.1:6379/0"
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

step "set-up done in $((SECONDS - started)) s"
