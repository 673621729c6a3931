#!/usr/bin/env bash
# Build tinyos, a small bootable qcow2 guest for computecloud's end-to-end tests, from
# Debian packages only (a Debian cloud kernel + busybox-static; no network download
# besides apt). See README.md next to this file for what the guest does.
#
# Usage: tools/guest_image/build.sh [--force]
#
# The image is cached as $COMPUTECLOUD_IMAGE_CACHE/tinyos-<hash>.qcow2, where <hash>
# covers this directory's recipe files and the kernel and busybox package versions, with
# a stable symlink tinyos.qcow2 next to it. A cached image is not rebuilt unless
# --force is given. Logs go to stderr; the last stdout line is the image's path.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_dir=${COMPUTECLOUD_IMAGE_CACHE:-/var/cache/computecloud/guest}
# modinfo and mkfs.vfat live in sbin, which a non-login root shell may lack.
export PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C

log() { echo "--> $*" >&2; }
die() {
    echo "--> error: $*" >&2
    exit 1
}

force=0
for arg in "$@"; do
    case $arg in
    --force) force=1 ;;
    -h | --help)
        sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *) die "unknown argument: $arg (usage: $0 [--force])" ;;
    esac
done

# Host tools the build runs, with the Debian package that provides each.
declare -A tool_pkg=(
    [apt-get]=apt [apt-cache]=apt [dpkg]=dpkg [cpio]=cpio [gzip]=gzip [flock]=util-linux
    [modinfo]=kmod [mkfs.vfat]=dosfstools [syslinux]=syslinux [mcopy]=mtools
    [qemu-img]=qemu-utils [sha256sum]=coreutils
)

ensure_tools() {
    local missing=() tool
    for tool in "${!tool_pkg[@]}"; do
        command -v "$tool" >/dev/null || missing+=("${tool_pkg[$tool]}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    # The syslinux installer needs syslinux-common's ldlinux modules too.
    [[ " ${missing[*]} " == *" syslinux "* ]] && missing+=(syslinux-common)
    [ "$EUID" -eq 0 ] || die "missing host packages (install as root): ${missing[*]}"
    log "installing host packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >&2
}

# Print "kernel <package> [<version>]" and "busybox <version>" for the apt candidates,
# e.g. "kernel linux-image-6.1.0-56-cloud-amd64 6.1.192-2". One apt-cache call: each
# costs about a second where apt keeps no pkgcache.bin (Debian container images).
apt_candidates() {
    apt-cache show --no-all-versions linux-image-cloud-amd64 busybox-static 2>/dev/null |
        awk '/^Package: / { pkg = $2 }
             pkg == "busybox-static" && /^Version: / { print "busybox", $2 }
             pkg == "linux-image-cloud-amd64" && /^Depends: / &&
                 match($0, /linux-image-[0-9][^ ,]*-cloud-amd64( \(= [^)]*\))?/) {
                 dep = substr($0, RSTART, RLENGTH); gsub(/[(=)]/, "", dep)
                 print "kernel", dep }'
}

candidate_version() {
    apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | head -n 1
}

# Set kernel_pkg, kernel_ver, busybox_ver and recipe_hash; fail if apt cannot say.
resolve_recipe() {
    local info
    info=$(apt_candidates)
    if [[ $info != *kernel* ]] && [ "$EUID" -eq 0 ]; then
        log "apt knows no linux-image-cloud-amd64; running apt-get update"
        apt-get update -q >&2 || true
        info=$(apt_candidates)
    fi
    read -r _ kernel_pkg kernel_ver < <(grep "^kernel " <<<"$info") || true
    read -r _ busybox_ver < <(grep "^busybox " <<<"$info") || true
    [ -n "${kernel_pkg:-}" ] || return 1
    # The meta package normally pins the exact version; ask apt if it does not.
    [ -n "${kernel_ver:-}" ] || kernel_ver=$(candidate_version "$kernel_pkg")
    [ -n "$kernel_ver" ] && [ "$kernel_ver" != "(none)" ] || return 1
    [ -n "${busybox_ver:-}" ] || return 1
    # The docs do not change the image, so they do not change the hash.
    recipe_hash=$({
        echo "$kernel_pkg $kernel_ver"
        echo "busybox-static $busybox_ver"
        (cd "$here" && find . -type f ! -name '*.md' -print0 | sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-12)
}

# Point tinyos.qcow2 at $1 atomically (rename), so readers never see it missing.
link_stable() {
    ln -sfn "$(basename "$1")" "$cache_dir/.tinyos.qcow2.new"
    mv -Tf "$cache_dir/.tinyos.qcow2.new" "$cache_dir/tinyos.qcow2"
}

# Copy module $1 (any .ko compression) to $2 as a plain .ko: busybox insmod may not
# decompress, and Debian's compression choice differs between kernel series.
copy_module() {
    case $1 in
    *.ko) cp "$1" "$2" ;;
    *.ko.xz) xz -dc "$1" >"$2" ;;
    *.ko.zst) zstd -qdc "$1" >"$2" ;;
    *.ko.gz) gzip -dc "$1" >"$2" ;;
    *) die "unknown module format: $1" ;;
    esac
}

# Resolve modules.list into $initrd/lib/modules/*.ko plus an "order" file where each
# module comes after its dependencies (depth-first on modinfo -F depends).
declare -A mod_path=() mod_builtin=() mod_seen=()
mod_order=()

add_module() {
    local name=${1//-/_} dep
    [ -n "${mod_seen[$name]:-}" ] && return 0
    mod_seen[$name]=1
    [ -n "${mod_builtin[$name]:-}" ] && return 0
    [ -n "${mod_path[$name]:-}" ] || die "kernel module $name not found in $kernel_pkg"
    for dep in $(modinfo -F depends "${mod_path[$name]}" | tr ',' ' '); do
        add_module "$dep"
    done
    mod_order+=("$name")
}

install_modules() {
    local moddir=$1 dest=$2 f base name
    while IFS= read -r -d '' f; do
        base=$(basename "$f")
        name=${base%%.ko*}
        mod_path[${name//-/_}]=$f
    done < <(find "$moddir/kernel" -name '*.ko*' -print0)
    if [ -f "$moddir/modules.builtin" ]; then
        while read -r f; do
            base=$(basename "$f")
            name=${base%%.ko*}
            mod_builtin[${name//-/_}]=1
        done <"$moddir/modules.builtin"
    fi
    while read -r name; do
        name=${name%%#*}
        name=${name//[[:space:]]/}
        [ -n "$name" ] && add_module "$name"
    done <"$here/modules.list"
    mkdir -p "$dest"
    for name in "${mod_order[@]}"; do
        copy_module "${mod_path[$name]}" "$dest/$name.ko"
        echo "$name" >>"$dest/order"
    done
    log "modules (${#mod_order[@]}, load order): ${mod_order[*]}"
}

build_image() {
    local out=$1 work
    work=$(mktemp -d "${TMPDIR:-/tmp}/tinyos-build.XXXXXX")
    # shellcheck disable=SC2064 # expand $work now: it is local
    trap "rm -rf '$work'" EXIT

    log "downloading $kernel_pkg ($kernel_ver) and busybox-static ($busybox_ver)"
    local apt_opts=(-q)
    # As root apt downloads as _apt, which cannot write into a private temp dir.
    [ "$EUID" -eq 0 ] && apt_opts+=(-o APT::Sandbox::User=root)
    (cd "$work" && apt-get "${apt_opts[@]}" download \
        "$kernel_pkg=$kernel_ver" "busybox-static=$busybox_ver" >&2)
    dpkg -x "$work"/linux-image-*.deb "$work/kernel"
    dpkg -x "$work"/busybox-static_*.deb "$work/busybox"

    local kver moddir initrd=$work/initrd
    kver=${kernel_pkg#linux-image-}
    moddir=$work/kernel/lib/modules/$kver
    [ -d "$moddir" ] || moddir=$work/kernel/usr/lib/modules/$kver
    [ -d "$moddir" ] || die "no modules directory for $kver in $kernel_pkg"

    log "assembling the initramfs"
    mkdir -p "$initrd"/{bin,etc/udhcpc,etc/acpi/PWRF,lib/modules}
    install -m 0755 "$work/busybox/bin/busybox" "$initrd/bin/busybox"
    install -m 0755 "$here/init" "$initrd/init"
    install -m 0755 "$here/udhcpc.script" "$initrd/etc/udhcpc/default.script"
    install -m 0755 "$here/power-button" "$initrd/etc/acpi/PWRF/00000080"
    install_modules "$moddir" "$initrd/lib/modules"
    (cd "$initrd" && find . | sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >"$work/initrd.gz"

    log "writing the vfat boot disk with syslinux"
    local vmlinuz=$work/kernel/boot/vmlinuz-$kver size_mib
    [ -f "$vmlinuz" ] || die "no /boot/vmlinuz-$kver in $kernel_pkg"
    # Room for kernel + initramfs, plus slack for FAT overhead and ldlinux.
    size_mib=$((($(stat -c %s "$vmlinuz") + $(stat -c %s "$work/initrd.gz")) / 1048576 + 4))
    truncate -s "${size_mib}M" "$work/disk.raw"
    mkfs.vfat -n TINYOS "$work/disk.raw" >/dev/null
    syslinux --install "$work/disk.raw"
    cp "$vmlinuz" "$work/vmlinuz"
    mcopy -i "$work/disk.raw" "$work/vmlinuz" "$work/initrd.gz" "$here/syslinux.cfg" ::/

    log "converting to compressed qcow2"
    qemu-img convert -q -f raw -O qcow2 -c "$work/disk.raw" "$work/disk.qcow2"
    chmod 0644 "$work/disk.qcow2"
    # Same filesystem rename: a reader never sees a half-written image.
    mv "$work/disk.qcow2" "$out.tmp.$$"
    mv -f "$out.tmp.$$" "$out"
    rm -rf "$work"
    trap - EXIT
}

main() {
    ensure_tools
    mkdir -p "$cache_dir"
    chmod 0755 "$cache_dir"
    # Concurrent callers (make setup, several test sessions) build once.
    exec 9>"$cache_dir/.build.lock"
    flock 9

    local out
    if ! resolve_recipe; then
        # Offline and apt lists gone: an earlier build is still a usable guest.
        if [ "$force" -eq 0 ] && [ -e "$cache_dir/tinyos.qcow2" ]; then
            log "cannot resolve the kernel package via apt; reusing the cached image"
            readlink -f "$cache_dir/tinyos.qcow2"
            return 0
        fi
        die "apt-cache finds no linux-image-*-cloud-amd64 (is apt-get update done?)"
    fi

    out=$cache_dir/tinyos-$recipe_hash.qcow2
    if [ -f "$out" ] && [ "$force" -eq 0 ]; then
        log "cached: $out"
    else
        log "building $out"
        build_image "$out"
        log "built $out ($(du -h "$out" | cut -f1))"
    fi
    link_stable "$out"
    echo "$out"
}

main
