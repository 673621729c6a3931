#!/usr/bin/env bash
# Runs the real Tempest compute API tests against the private cloud of tools/tempest/cloud.sh.
#
#   tools/tempest/cloud.sh start
#   tools/tempest/run.sh                      # tempest.api.compute, concurrency 2
#   tools/tempest/run.sh --regex 'tempest\.api\.compute\.flavors'   # any `tempest run` options
#   TEMPEST_CREDENTIALS=dynamic tools/tempest/run.sh ...   # no pre-made accounts (below)
#
# It installs Tempest (pinned) into var/tempest-venv, creates the accounts Tempest needs with
# our management commands (idempotent), a network with a subnet in each of their projects, a
# second image, writes tempest.conf and accounts.yaml
# under var/tempest/workspace/etc, runs `tempest run`, and keeps the results under
# var/tempest/results/<time>/: the console log, the subunit stream, the failing tests' ids and
# a summary. docs/tempest.md has the configuration choices and the latest results.
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"
# shellcheck source=tools/tempest/env.sh
source "$ROOT/tools/tempest/env.sh"

TEMPEST_VERSION=${TEMPEST_VERSION:-47.0.0}
TEMPEST_VENV=${TEMPEST_VENV:-$ROOT/var/tempest-venv}
TEMPEST_CONCURRENCY=${TEMPEST_CONCURRENCY:-2}
WORKSPACE="$TEMPEST_DIR/workspace"
ETC="$WORKSPACE/etc"
# Member accounts, each in a project of its own with a reader beside it (Tempest gives every
# compute test class a primary member, often an alt user, and a reader of the primary's
# project), and admins. Two classes run at once; each holds its accounts while it runs.
MEMBER_PROJECTS=${MEMBER_PROJECTS:-6}
ADMINS=${ADMINS:-3}
# accounts: the pre-made accounts above, in accounts.yaml. dynamic: Tempest makes a project,
# its users and a network for each test class through the identity and network
# administration APIs, as the bootstrap admin ("admin", ADMIN_PASSWORD from .env), and
# deletes them at the end of the class.
TEMPEST_CREDENTIALS=${TEMPEST_CREDENTIALS:-accounts}
TEMPEST_ADMIN_USERNAME=${TEMPEST_ADMIN_USERNAME:-admin}
TEMPEST_ADMIN_PROJECT=${TEMPEST_ADMIN_PROJECT:-admin}
case $TEMPEST_CREDENTIALS in
  accounts) ;;
  dynamic) [[ -n "${ADMIN_PASSWORD:-}" ]] || die "TEMPEST_CREDENTIALS=dynamic needs ADMIN_PASSWORD in .env" ;;
  *) die "TEMPEST_CREDENTIALS is accounts or dynamic, not $TEMPEST_CREDENTIALS" ;;
esac

curl -sf "$PUBLIC_URL/identity/v3" >/dev/null || die "no API at $PUBLIC_URL: run tools/tempest/cloud.sh start"

# --- Tempest, pinned, in its own virtualenv (git ignores var/) ----------------------------------
if [[ "$("$TEMPEST_VENV/bin/tempest" --version 2>/dev/null | awk '{print $2}')" != "$TEMPEST_VERSION" ]]; then
  step "installing tempest $TEMPEST_VERSION into $TEMPEST_VENV"
  python3 -m venv "$TEMPEST_VENV"
  "$TEMPEST_VENV/bin/pip" install -q --upgrade pip
  "$TEMPEST_VENV/bin/pip" install -q "tempest==$TEMPEST_VERSION"
fi

mkdir -p "$ETC" "$WORKSPACE/logs" "$WORKSPACE/locks"
if [[ $TEMPEST_CREDENTIALS == accounts ]]; then
# --- accounts: projects, users and roles through manage.py identity_* ----------------------------
umask 077
[[ -s "$ETC/password" ]] || "$PY" -c 'import secrets; print(secrets.token_urlsafe(18))' >"$ETC/password"
umask 022
TEMPEST_PASSWORD=$(cat "$ETC/password")
export TEMPEST_PASSWORD
existing_projects=$("$PY" manage.py identity_project list | awk '{print $2}')
existing_users=$("$PY" manage.py identity_user list | awk '{print $2}')
ensure_account() { # PROJECT USER ROLE
  grep -qx "$1" <<<"$existing_projects" || "$PY" manage.py identity_project create "$1" \
    --description "Tempest"
  existing_projects+=$'\n'"$1"
  if grep -qx "$2" <<<"$existing_users"; then
    "$PY" manage.py identity_user set-password "$2" --password-env TEMPEST_PASSWORD >/dev/null
  else
    "$PY" manage.py identity_user create "$2" --password-env TEMPEST_PASSWORD --project "$1" \
      --role "$3"
  fi
}
step "ensuring Tempest's accounts ($MEMBER_PROJECTS member projects, $ADMINS admins)"
accounts="$ETC/accounts.yaml"
: >"$accounts.new"
# Each account names its project's network (below) as its resource: the network Tempest boots
# the classes' servers on.
for i in $(seq 1 "$MEMBER_PROJECTS"); do
  ensure_account "tempest-p$i" "tempest-member$i" member
  printf -- "- username: tempest-member%s\n  project_name: tempest-p%s\n  password: '%s'\n  roles: [member]\n  resources: {network: tempest-net-p%s}\n" \
    "$i" "$i" "$TEMPEST_PASSWORD" "$i" >>"$accounts.new"
done
# Readers after members: the alt user is "any non-admin account, first free", and it must be
# able to create things.
for i in $(seq 1 "$MEMBER_PROJECTS"); do
  ensure_account "tempest-p$i" "tempest-reader$i" reader
  printf -- "- username: tempest-reader%s\n  project_name: tempest-p%s\n  password: '%s'\n  roles: [reader]\n  resources: {network: tempest-net-p%s}\n" \
    "$i" "$i" "$TEMPEST_PASSWORD" "$i" >>"$accounts.new"
done
for i in $(seq 1 "$ADMINS"); do
  ensure_account "tempest-admin$i" "tempest-admin$i" admin
  printf -- "- username: tempest-admin%s\n  project_name: tempest-admin%s\n  password: '%s'\n  roles: [admin]\n  types: [admin]\n  resources: {network: tempest-net-admin%s}\n" \
    "$i" "$i" "$TEMPEST_PASSWORD" "$i" >>"$accounts.new"
done
chmod 600 "$accounts.new"
mv "$accounts.new" "$accounts"

# --- networks: one per project, with a subnet, through the network service (idempotent) ------
# Names are unique across projects: an admin lists every project's networks, and Tempest
# wants exactly one match for the name. 10.200.N.0/24 stays clear of the 10.100.x.0/24 that
# the multi-NIC tests make for themselves.
step "ensuring each Tempest project's network (tempest-net-PROJECT, 10.200.N.0/24)"
"$PY" manage.py shell -c "
from apps.identity.models import Project
from apps.networks.models import Network
from apps.networks.networks import create_network, create_subnet
projects = [f'p{i}' for i in range(1, $MEMBER_PROJECTS + 1)]
projects += [f'admin{i}' for i in range(1, $ADMINS + 1)]
for index, suffix in enumerate(projects, start=1):
    project = Project.objects.get(name=f'tempest-{suffix}')
    name = f'tempest-net-{suffix}'
    network = Network.objects.filter(project_id=project.id, name=name).first()
    if network is None:
        network = create_network(project_id=project.id, name=name)
    if not network.subnets.exists():
        create_subnet(project_id=project.id, network=network, cidr=f'10.200.{index}.0/24',
                      name=f'tempest-subnet-{suffix}')
"
FIXED_NETWORK=
else
# --- dynamic credentials: one shared network, for the classes that make none -----------------
# Tempest makes a network only for the classes that ask for one (create_default_network);
# the others boot on fixed_network_name, as devstack's "private" network. Without it their
# servers would have no port, and so no security groups and no addresses to test.
FIXED_NETWORK=tempest-shared
step "ensuring the shared network $FIXED_NETWORK (10.201.0.0/22)"
"$PY" manage.py shell -c "
from apps.identity.models import Project
from apps.networks.models import Network
from apps.networks.networks import create_network, create_subnet
owner = Project.objects.get(name='$TEMPEST_ADMIN_PROJECT')
network = Network.objects.filter(name='$FIXED_NETWORK', shared=True).first()
if network is None:
    network = create_network(project_id=owner.id, name='$FIXED_NETWORK', shared=True)
if not network.subnets.exists():
    create_subnet(project_id=owner.id, network=network, cidr='10.201.0.0/22',
                  name='$FIXED_NETWORK-subnet')
"
fi

# --- images and flavors ---------------------------------------------------------------------------
step "ensuring the images (tinyos, tinyos-alt)"
images=$("$PY" manage.py shell -c "
from pathlib import Path
from apps.identity.models import Project
from apps.images.models import Image
from apps.images.services import ensure_image_from_file
owner = Project.objects.get(name='admin')
first = Image.objects.get(name='tinyos')
alt = ensure_image_from_file(name='tinyos-alt', path=Path('$GUEST_IMAGE'), owner=owner,
    visibility='public', properties={'hw_machine_type': 'pc', 'os_distro': 'tinyos'})
print(first.id, alt.id)
" | tail -n 1)
read -r IMAGE_REF IMAGE_REF_ALT <<<"$images"
# m1.nano and m1.tiny: the two smallest of bootstrap's standard flavors (resize goes up).
FLAVOR_REF=${FLAVOR_REF:-0}
FLAVOR_REF_ALT=${FLAVOR_REF_ALT:-1}

# --- tempest.conf and the stestr workspace -------------------------------------------------------
umask 077 # tempest.conf holds the admin's password with dynamic credentials
if [[ $TEMPEST_CREDENTIALS == accounts ]]; then
  # Pre-provisioned accounts, locked per test class (run.sh made them above).
  cat >"$ETC/auth.conf" <<EOF
[auth]
use_dynamic_credentials = false
test_accounts_file = $WORKSPACE/etc/accounts.yaml
create_isolated_networks = false
admin_domain_name = Default
EOF
  cp "$ROOT/tools/tempest/exclude.txt" "$ETC/exclude.txt"
else
  # Dynamic credentials: per test class a project, a user per persona (member, reader, alt,
  # admin) with its role, and (create_isolated_networks) a network, a /24 subnet of
  # 10.200.0.0/16 and a router with the subnet on it, all deleted at the end of the class.
  # The range keeps clear of the 10.100.x.0/24 the multi-NIC tests make. No public network:
  # the routers get no gateway.
  cat >"$ETC/auth.conf" <<EOF
[auth]
use_dynamic_credentials = true
create_isolated_networks = true
admin_username = $TEMPEST_ADMIN_USERNAME
admin_password = $ADMIN_PASSWORD
admin_project_name = $TEMPEST_ADMIN_PROJECT
admin_domain_name = Default
admin_user_domain_name = Default
admin_project_domain_name = Default

[network]
project_network_cidr = 10.200.0.0/16
project_network_mask_bits = 24
EOF
  # The classes that demand a project of their own run now.
  grep -v '# pre-made accounts only' "$ROOT/tools/tempest/exclude.txt" >"$ETC/exclude.txt"
fi
sed -e "s|@WORKSPACE@|$WORKSPACE|g" -e "s|@PUBLIC_URL@|$PUBLIC_URL|g" \
  -e "s|@IMAGE_REF@|$IMAGE_REF|g" -e "s|@IMAGE_REF_ALT@|$IMAGE_REF_ALT|g" \
  -e "s|@FLAVOR_REF@|$FLAVOR_REF|g" -e "s|@FLAVOR_REF_ALT@|$FLAVOR_REF_ALT|g" \
  -e "s|@FIXED_NETWORK@|$FIXED_NETWORK|g" \
  -e "/^@AUTH@\$/{r $ETC/auth.conf" -e 'd}' \
  tools/tempest/tempest.conf.in >"$ETC/tempest.conf"
rm -f "$ETC/auth.conf"
umask 022
# What `tempest init` would write, without registering a workspace in the home directory.
tempest_pkg=$("$TEMPEST_VENV/bin/python" -c 'import os, tempest; print(os.path.dirname(tempest.__file__))')
printf '[DEFAULT]\ntest_path=%s/test_discover\ntop_dir=%s\ngroup_regex=([^\\.]*\\.)*\n' \
  "$tempest_pkg" "$(dirname "$tempest_pkg")" >"$WORKSPACE/.stestr.conf"
[[ -d "$WORKSPACE/.stestr" ]] || (cd "$WORKSPACE" && "$TEMPEST_VENV/bin/stestr" init >/dev/null)
# A killed run leaves its accounts locked: one file per account, named by its hash.
find "$WORKSPACE/locks" -maxdepth 2 -type f -regextype egrep -regex '.*/[0-9a-f]{32}' -delete

# --- the run --------------------------------------------------------------------------------------
results="$TEMPEST_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
args=("$@")
[[ " $* " == *" --regex "* || " $* " == *" --include-list "* ]] || args+=(--regex '^tempest\.api\.compute')
[[ " $* " == *" --exclude-list "* ]] || args+=(--exclude-list "$ETC/exclude.txt")
step "tempest run ${args[*]} --concurrency $TEMPEST_CONCURRENCY, $TEMPEST_CREDENTIALS credentials (results in $results)"
set +e
(cd "$WORKSPACE" && "$TEMPEST_VENV/bin/tempest" run --config-file "$ETC/tempest.conf" \
  --concurrency "$TEMPEST_CONCURRENCY" "${args[@]}") 2>&1 | tee "$results/console.log"
status=${PIPESTATUS[0]}
set -e
(cd "$WORKSPACE" && "$TEMPEST_VENV/bin/stestr" last --subunit >"$results/results.subunit" || true)
(cd "$WORKSPACE" && "$TEMPEST_VENV/bin/stestr" failing --list 2>/dev/null | sort >"$results/failing.txt" || true)
sed -n '/^Totals$/,/^Sum of execute/p' "$results/console.log" | grep -E '^(Ran| - )' >"$results/summary.txt" || true
printf -- '--> totals\n%s\nfailing tests: %s (list in %s/failing.txt)\n' \
  "$(cat "$results/summary.txt")" "$(wc -l <"$results/failing.txt")" "$results" >&2
ln -sfn "$results" "$TEMPEST_DIR/results/latest"
exit "$status"
