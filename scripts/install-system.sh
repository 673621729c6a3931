#!/usr/bin/env bash
# Installs the Debian packages computecloud needs, if missing, and prepares libvirt's QEMU
# driver for this machine (see docs/operations.md). Idempotent. Needs root.
source "$(dirname "$0")/lib.sh"

PACKAGES=(
  # services
  postgresql redis-server
  # hypervisor: libvirt's QEMU driver without libvirt-daemon-system's networking extras
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils
  libvirt-dev pkg-config genisoimage
  # guests' networks (workers/network): DHCP, nftables (security groups, NAT), iproute2,
  # sysctl (busybox's udhcpc, above, is its tests' DHCP client)
  dnsmasq-base nftables iproute2 procps
  # what the documents have an operator run (tests/e2e/test_documented_commands.py runs them):
  # ping, conntrack, curl; openssl for Redis's TLS certificates (docs/operations.md)
  iputils-ping conntrack curl openssl
  # guests' volumes (workers/storage): LVM thin volumes (VOLUME_BACKEND=lvm), qemu-img above
  lvm2 thin-provisioning-tools
  # guest image ingredients
  busybox-static syslinux syslinux-common mtools dosfstools kmod cpio
  # console page and browser tests
  novnc chromium chromium-driver
  # building Python packages
  python3-venv python3-dev gcc make git
  # ssh-keygen (key pair tests compare fingerprints with it); a minimal image lacks it
  openssh-client
  # setfacl: lets the service user reach an interpreter under a private home (scripts/setup.sh)
  acl
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  step "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  step "Debian packages: all present"
fi
# The dashboard's front-end packages come from the npm registry (package.json). A machine
# that already has Node.js with npm keeps it; Debian's own are installed only where none is.
if ! command -v npm >/dev/null; then
  step "installing Debian packages: nodejs npm"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# libvirtd's QEMU driver looks these up at start whatever qemu.conf says.
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
id libvirt-qemu >/dev/null 2>&1 ||
  useradd -r -g kvm -G libvirt-qemu -M -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu

# QEMU runs as root: /dev/kvm is root-only here and instance dirs may be 0700.
conf=/etc/libvirt/qemu.conf
mkdir -p /etc/libvirt
if ! grep -q '^user = "root"' "$conf" 2>/dev/null; then
  step "configuring libvirt's QEMU driver to run guests as root"
  printf 'user = "root"\ngroup = "root"\n' >>"$conf"
fi
# libvirtd's sockets for root only: the compute worker is the one process that drives the
# hypervisor. (Unconfigured, access rests on polkit, which these machines lack.) Read at
# libvirtd's next start.
conf=/etc/libvirt/libvirtd.conf
if ! grep -q '^unix_sock_rw_perms = "0700"' "$conf" 2>/dev/null; then
  step "restricting libvirtd's sockets to root"
  printf 'unix_sock_group = "root"\nunix_sock_ro_perms = "0700"\nunix_sock_rw_perms = "0700"\n' >>"$conf"
fi
mkdir -p /var/log/libvirt /var/lib/computecloud /var/cache/computecloud

# The control plane's processes run as this unprivileged system user (docs/operations.md).
getent group "$SERVICE_USER" >/dev/null || groupadd -r "$SERVICE_USER"
id "$SERVICE_USER" >/dev/null 2>&1 ||
  useradd -r -g "$SERVICE_USER" -M -d /nonexistent -s /usr/sbin/nologin "$SERVICE_USER"
