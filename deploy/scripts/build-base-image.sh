#!/usr/bin/env bash
# Builds a minimal Debian bookworm + Python 3.11 base image WITHOUT pulling from
# any container registry: debootstrap a minbase rootfs from the Debian mirror that
# apt already uses, then `docker import` it. For air-gapped sites and CI machines
# that can reach the Debian archive but no registry.
#
# Usage: deploy/scripts/build-base-image.sh [TAG]   (default switchboard-base:bookworm)
# Env:   DEBIAN_MIRROR (default: first URI in /etc/apt/sources*, else deb.debian.org)
#        BUILD_DIR     (default: build/base-image)
#        FORCE=1       rebuild even if the image for the same inputs exists.
set -euo pipefail

TAG="${1:-switchboard-base:bookworm}"
SUITE=bookworm
PACKAGES="python3,python3-venv,ca-certificates,tzdata"
ROOT_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT_DIR/build/base-image}"

if [[ -z "${DEBIAN_MIRROR:-}" ]]; then
    DEBIAN_MIRROR="$(grep -hoE '^(URIs:|deb) +http[^ ]*debian/?( |$)' /etc/apt/sources.list \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
        | grep -oE 'http[^ ]*' | head -n1 || true)"
    DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
fi

# The image is cached by a hash of its inputs (this script + suite + packages).
INPUT_HASH="$( { cat "$0"; echo "$SUITE $PACKAGES"; } | sha256sum | cut -c1-16)"
if [[ "${FORCE:-0}" != 1 ]] \
    && [[ "$(docker image inspect -f '{{ index .Config.Labels "org.switchboard.base.inputs" }}' "$TAG" 2>/dev/null)" == "$INPUT_HASH" ]]; then
    echo "base image $TAG is up to date ($INPUT_HASH)"
    exit 0
fi

command -v debootstrap >/dev/null || {
    echo "debootstrap is missing: apt-get install -y debootstrap" >&2
    exit 1
}
[[ "$(id -u)" == 0 ]] || { echo "debootstrap needs root" >&2; exit 1; }

mkdir -p "$BUILD_DIR"
TARBALL="$BUILD_DIR/rootfs-$INPUT_HASH.tar"
if [[ ! -s "$TARBALL" ]]; then
    ROOTFS="$(mktemp -d "$BUILD_DIR/rootfs.XXXXXX")"
    trap 'rm -rf "$ROOTFS"' EXIT
    echo "debootstrap $SUITE from $DEBIAN_MIRROR into $ROOTFS"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$DEBIAN_MIRROR"
    # Slim it down: no apt lists, caches, docs or man pages in the image.
    chroot "$ROOTFS" apt-get clean
    rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
        "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
        "$ROOTFS"/var/log/*.log "$ROOTFS"/tmp/* "$ROOTFS"/root/.cache
    # Standard apt sources (the mirror used at build time may be a local one).
    echo "deb http://deb.debian.org/debian $SUITE main" > "$ROOTFS/etc/apt/sources.list"
    tar -C "$ROOTFS" --numeric-owner -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
    rm -rf "$ROOTFS"
    trap - EXIT
fi

docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change "LABEL org.switchboard.base.inputs=$INPUT_HASH" \
    --message "debootstrap --variant=minbase $SUITE + $PACKAGES" \
    "$TARBALL" "$TAG"
echo "built $TAG ($INPUT_HASH)"
