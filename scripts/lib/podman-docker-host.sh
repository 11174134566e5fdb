# Sourced by scripts/compose-test.sh: makes this machine a Docker host for the docker client and
# docker-compose, with podman serving the Docker API, on machines that have neither a Docker engine
# nor a reachable image registry (see the README's "Containers" section). Every step is idempotent:
# a second run finds the packages, the settings, the base images and the API service in place.
#
# Needs root. Leaves the API service running (its PID in $PODMAN_SERVICE_PID_FILE) and exports
# DOCKER_HOST; stop it with stop_podman_service.

podman_socket_dir=/run/podman
podman_socket="$podman_socket_dir/podman.sock"
PODMAN_SERVICE_PID_FILE="$podman_socket_dir/gregor-compose-service.pid"
# The Debian release the node:20 images are built on.
base_suite=bookworm
# Base images made from debootstrap are kept here as tarballs, outside the repository, so a rerun
# (or a fresh clone on the same machine) imports them in seconds instead of bootstrapping again.
host_ca_bundle="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
base_cache_dir="${GREGOR_COMPOSE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gregor-compose}"

log() { printf '[compose-test %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

install_container_packages() {
  local missing=()
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  # A docker command: podman-docker's, where the docker client is missing.
  command -v docker >/dev/null 2>&1 || missing+=(podman-docker)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v kcat >/dev/null 2>&1 || missing+=(kcat)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    # Naming runc keeps crun (whose rlimit handling fails here just the same) out.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# The sandbox refuses to raise some rlimits: podman's default ulimits make every container start
# fail with "error setting rlimit type 7: operation not permitted". nproc above about 32768 is
# refused too.
write_containers_conf() {
  local conf=/etc/containers/containers.conf
  local marker='# gregor compose-test settings'
  if [ -f "$conf" ] && grep -qF "$marker" "$conf"; then return; fi
  if [ -f "$conf" ] && grep -qvE '^\s*(#|$)' "$conf"; then
    log "$conf has settings of its own; leaving it alone (containers may fail to start: see CONTAINERS)"
    return
  fi
  log "writing $conf (ulimits the sandbox allows, runc)"
  mkdir -p /etc/containers
  cat >"$conf" <<EOF
$marker
[containers]
default_ulimits = ["nproc=4096:4096", "nofile=16384:16384"]

[engine]
runtime = "runc"
EOF
}

# node:20-bookworm-slim as far as Gregor needs it: Debian bookworm (minbase), this machine's node
# binary in /usr/local/bin, and the node user (uid 1000) the real image has. No npm: the runtime
# image only runs what the build stage made.
#
# node:20-bookworm for the build stage: bookworm with python3, make and g++ (for the one native
# addon that is compiled at install), node and npm in /usr/local, and node's headers in
# /usr/local/include/node, where the real image has them.
make_base_image() {
  local image=$1 flavour=$2
  if podman image exists "$image"; then return; fi
  local tarball="$base_cache_dir/$flavour-rootfs.tar"
  if [ ! -f "$tarball" ]; then
    local rootfs
    rootfs=$(mktemp -d /tmp/gregor-rootfs.XXXXXX)
    local include=()
    [ "$flavour" = build ] && include=(--include=python3,make,g++,ca-certificates)
    log "debootstrap $base_suite ($flavour) into $rootfs"
    debootstrap --variant=minbase "${include[@]}" "$base_suite" "$rootfs" >/dev/null
    install -m 0755 "$(command -v node)" "$rootfs/usr/local/bin/node"
    if [ "$flavour" = build ]; then
      local node_prefix
      node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
      mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/include"
      cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$rootfs/usr/local/lib/node_modules/npm"
      ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
      cp -a "$node_prefix/include/node" "$rootfs/usr/local/include/node"
      # npm in the build stage reaches the registry through this machine's network, so it trusts
      # what this machine trusts (its CA bundle may hold a local CA the Debian one lacks).
      cp "$host_ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    fi
    chroot "$rootfs" groupadd -g 1000 node
    chroot "$rootfs" useradd -u 1000 -g node -m -s /bin/bash node
    chroot "$rootfs" apt-get clean
    rm -rf "$rootfs"/var/lib/apt/lists/*
    mkdir -p "$base_cache_dir"
    tar -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  log "importing $image from $tarball"
  local changes=(--change 'CMD ["node"]')
  [ "$flavour" = build ] && changes+=(--change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt")
  podman import --quiet "${changes[@]}" "$tarball" "$image" >/dev/null
}

podman_service_running() {
  [ -S "$podman_socket" ] && curl -sf --unix-socket "$podman_socket" http://d/_ping >/dev/null 2>&1
}

start_podman_service() {
  export DOCKER_HOST="unix://$podman_socket"
  if podman_service_running; then return; fi
  mkdir -p "$podman_socket_dir"
  log "starting the podman API service on $podman_socket"
  # Docker-format images: the OCI format has no HEALTHCHECK, and podman would drop the image's.
  BUILDAH_FORMAT=docker podman system service --time=0 "unix://$podman_socket" >/tmp/gregor-podman-service.log 2>&1 &
  echo $! >"$PODMAN_SERVICE_PID_FILE"
  for _ in $(seq 1 100); do
    podman_service_running && return
    sleep 0.1
  done
  log "the podman API service did not start:"
  cat /tmp/gregor-podman-service.log >&2
  return 1
}

# Stops the API service only if this script started it.
stop_podman_service() {
  if [ -f "$PODMAN_SERVICE_PID_FILE" ]; then
    kill "$(cat "$PODMAN_SERVICE_PID_FILE")" 2>/dev/null || true
    rm -f "$PODMAN_SERVICE_PID_FILE"
  fi
}

setup_podman_docker_host() {
  install_container_packages
  write_containers_conf
  make_base_image docker.io/library/node:20-bookworm-slim slim
  make_base_image docker.io/library/node:20-bookworm build
  start_podman_service
}
