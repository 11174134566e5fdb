#!/usr/bin/env bash
# Runs docker-compose.yml for real and checks it the way its users will use it:
#   1. makes this machine a Docker host if it is not one (podman serving the Docker API, base images
#      made with debootstrap where no registry is reachable: scripts/lib/podman-docker-host.sh);
#   2. builds the Gregor image once (Dockerfile) and the kcat client image (docker/kcat);
#   3. `docker-compose up -d`, timing until the first acks=all produce is acknowledged;
#   4. waits until kcat -L on the host lists every broker (podman runs no healthchecks);
#      and each broker's allocator (glibc's malloc; jemalloc in a container started with
#      GREGOR_ALLOCATOR=jemalloc);
#   5. produces and consumes from the host (PLAINTEXT_HOST, localhost:9092-9094) and from a client
#      container on the compose network (PLAINTEXT, gregor-N:19092), each reading what the other wrote;
#   6. kills (SIGKILL) the container leading a partition while an idempotent acks=all producer runs,
#      starts it again, waits until every ISR is full, and checks nothing acknowledged was lost;
#   7. `docker-compose down -v`.
# With COMPOSE_SECURE=1 it runs docker-compose.secure.yml instead (not in CI): certificates made with
# scripts/compose-secure-certs.sh into a temporary directory, `up -d` (gregor-init stores the admin's
# SCRAM credentials), kcat over SASL_SSL (SCRAM-SHA-512) from the host and from a container on the
# network, each reading what the other wrote; a client without credentials, with a wrong password
# and without TLS is refused (and the node logs it); a TLS client without a node certificate is
# refused on the CONTROLLER listener; `down -v`.
# Needs root (apt-get, podman). Prints the figures it measured; exits non-zero on any failure.
# Uses host ports 9092-9094: nothing else may listen there.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
script_start=$(date +%s)

source scripts/lib/podman-docker-host.sh

secure=
[ "${COMPOSE_SECURE:-}" = 1 ] && secure=1
if [ -n "$secure" ]; then
  project=gregor-compose-secure-test
  compose=(docker-compose --project-name "$project" --file "$repo/docker-compose.secure.yml")
  # What the compose file mounts: made by scripts/compose-secure-certs.sh below.
  secrets_dir=$(mktemp -d /tmp/gregor-compose-secrets.XXXXXX)
  rmdir "$secrets_dir"
  export GREGOR_SECRETS_DIR=$secrets_dir
else
  project=gregor-compose-test
  compose=(docker-compose --project-name "$project" --file "$repo/docker-compose.yml")
fi
# A bounded wait for anything: poll every 0.5 s.
readiness_wait_s=120

cleanup() {
  local status=$?
  if [ $status -ne 0 ]; then
    log "failed; the nodes' last log lines:"
    "${compose[@]}" logs --no-color --tail=40 2>&1 | cut -c1-400 >&2 || true
  fi
  if [ -n "$secure" ]; then "${compose[@]}" rm -fsv gregor-init >/dev/null 2>&1 || true; fi
  if [ -n "${jemalloc_container:-}" ]; then docker rm -f "$jemalloc_container" >/dev/null 2>&1 || true; fi
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  if [ -n "${secrets_dir:-}" ]; then rm -rf "$secrets_dir"; fi
  if [ -n "${started_service:-}" ]; then stop_podman_service; fi
  exit $status
}

fail() {
  log "FAIL: $*"
  exit 1
}

for port in 9092 9093 9094; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "something already listens on 127.0.0.1:$port; the compose file publishes the brokers there"
  fi
done

if [ -z "${DOCKER_HOST:-}" ] && ! docker version >/dev/null 2>&1; then
  setup_podman_docker_host
  started_service=1
fi
trap cleanup EXIT
using_podman=
[ "${DOCKER_HOST:-}" = "unix://$podman_socket" ] && using_podman=1

# The image's own HEALTHCHECK (/readyz: registered, unfenced, serving), run once. Docker runs it by
# itself; podman without systemd does not, but runs it on demand and records the result.
healthcheck_passes() {
  if [ -n "$using_podman" ]; then
    podman healthcheck run "$1" >/dev/null 2>&1
  else
    [ "$(docker inspect --format '{{.State.Health.Status}}' "$1")" = healthy ]
  fi
}

wait_healthy() {
  local deadline=$(($(date +%s) + readiness_wait_s))
  until healthcheck_passes "$1"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$1 not healthy after ${readiness_wait_s} s"
    sleep 0.5
  done
}

# docker-compose 1.29 builds each service with `build:` on its own and sends the whole context each
# time: build once here, and let `up` find the images.
build_start=$(date +%s)
log "building the gregor image"
build_image() {
  local tag=$1 context=$2 output
  output=$(mktemp /tmp/gregor-build.XXXXXX)
  if ! docker build --tag "$tag" "$context" >"$output" 2>&1; then
    tail -n 60 "$output" >&2
    rm -f "$output"
    fail "docker build of $tag failed"
  fi
  rm -f "$output"
}
build_image gregor:latest .
build_image gregor-kcat:latest docker/kcat
build_s=$(($(date +%s) - build_start))

# Leftovers of an interrupted run would keep their data.
if [ -n "$secure" ]; then "${compose[@]}" rm -fsv gregor-init >/dev/null 2>&1 || true; fi
"${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true

# Every broker listed at its address for the listener asked: brokers_listed LISTING ADDRESS-1 ADDRESS-2 ADDRESS-3.
brokers_listed() {
  local listing=$1
  shift
  local id=1
  for address in "$@"; do
    grep -q "broker $id at $address" <<<"$listing" || return 1
    id=$((id + 1))
  done
}

if [ -n "$secure" ]; then
  source scripts/lib/compose-secure-test.sh
  secure_compose_test
  exit 0
fi

up_ms=$(date +%s%3N)
"${compose[@]}" up -d --no-build
startup=$(node scripts/compose-client.mjs startup "$up_ms")
log "started: $startup"

# kcat in a container on the compose network. `docker-compose run kcat` would do, but
# docker-compose 1.29 then wants the network recreated: podman reports an IPAM option of its own.
kcat_network() {
  docker run --rm -i --network "${project}_gregor" gregor-kcat:latest "$@"
}

deadline=$(($(date +%s) + readiness_wait_s))
# On the host, broker N is at its published port: localhost:9092, 9093, 9094.
until listing=$(kcat -b localhost:9092 -L -m 2 2>/dev/null) &&
  brokers_listed "$listing" localhost:9092 localhost:9093 localhost:9094; do
  [ "$(date +%s)" -lt "$deadline" ] ||
    fail "kcat -L does not list every broker after ${readiness_wait_s} s: ${listing:-nothing}"
  sleep 0.5
done
log "host clients see every broker at its published port"
for id in 1 2 3; do wait_healthy "gregor-$id"; done
log "every container passes the image's HEALTHCHECK (/readyz)"

# The allocator (docker/entrypoint.sh): glibc's malloc by default, jemalloc with
# GREGOR_ALLOCATOR=jemalloc. The broker is the container's process 1 (the entry point and env exec
# it); it logs which one it runs on. (Logs are read whole first: grep -q would stop reading, and
# pipefail would count docker's broken pipe.)
for id in 1 2 3; do
  if docker exec "gregor-$id" grep -q libjemalloc /proc/1/maps; then fail "gregor-$id runs on jemalloc unasked"; fi
  node_log=$(docker logs "gregor-$id" 2>&1)
  grep -q '"allocator":"system malloc"' <<<"$node_log" || fail "gregor-$id does not log its allocator"
done
jemalloc_container=$(docker run -d -e GREGOR_ALLOCATOR=jemalloc gregor:latest)
deadline=$(($(date +%s) + readiness_wait_s))
until node_log=$(docker logs "$jemalloc_container" 2>&1) && grep -q '"allocator"' <<<"$node_log"; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "a broker with GREGOR_ALLOCATOR=jemalloc logged no allocator"
  sleep 0.5
done
grep -q '"allocator":"jemalloc"' <<<"$node_log" || fail "GREGOR_ALLOCATOR=jemalloc: not on jemalloc"
docker exec "$jemalloc_container" grep -q libjemalloc /proc/1/maps || fail "GREGOR_ALLOCATOR=jemalloc: not mapped"
docker rm -f "$jemalloc_container" >/dev/null
jemalloc_container=
log "every broker runs on glibc's malloc; one started with GREGOR_ALLOCATOR=jemalloc on jemalloc"

# What Prometheus scrapes (deploy/prometheus/prometheus.yml): gregor-N:9404/metrics on the network.
for id in 1 2 3; do
  docker run --rm --network "${project}_gregor" --entrypoint node gregor:latest -e "
    fetch('http://gregor-$id:9404/metrics').then(async (response) => {
      const text = await response.text();
      process.exit(response.ok && text.includes('kafka_server_replicamanager_leadercount') ? 0 : 1);
    }, () => process.exit(1));" || fail "gregor-$id:9404/metrics does not answer on the network"
done
log "every node serves /metrics at gregor-N:9404 on the network"

network_listing=$(kcat_network -b gregor-2:19092 -L -m 5 </dev/null)
brokers_listed "$network_listing" gregor-1:19092 gregor-2:19092 gregor-3:19092 ||
  fail "network listing: $network_listing"
log "clients on the compose network see every broker at gregor-N:19092"

# Written on one side, read on the other, acks=all both ways (kcat -P exits non-zero on any failed
# delivery).
printf 'from-host-1\nfrom-host-2\nfrom-host-3\n' |
  kcat -b localhost:9093 -P -t compose-host-written -X acks=all -X message.timeout.ms=30000
read_on_network=$(kcat_network -b gregor-1:19092 -C -t compose-host-written -o beginning -e -q </dev/null | sort)
[ "$read_on_network" = $'from-host-1\nfrom-host-2\nfrom-host-3' ] ||
  fail "the network client read: $read_on_network"
printf 'from-network-1\nfrom-network-2\nfrom-network-3\n' |
  kcat_network -b gregor-3:19092 -P -t compose-network-written -X acks=all -X message.timeout.ms=30000
read_on_host=$(kcat -b localhost:9094 -C -t compose-network-written -o beginning -e -q | sort)
[ "$read_on_host" = $'from-network-1\nfrom-network-2\nfrom-network-3' ] ||
  fail "the host client read: $read_on_host"
log "produced on the host and read on the network, and the other way round"

chaos=$(node scripts/compose-client.mjs chaos)
log "leader killed and restarted: $chaos"
killed=$(sed -E 's/.*"killed":"([^"]+)".*/\1/' <<<"$chaos")
wait_healthy "$killed"
log "$killed passes the HEALTHCHECK again"

down_start=$(date +%s)
"${compose[@]}" down -v --remove-orphans
down_s=$(($(date +%s) - down_start))
log "figures: image build ${build_s} s; $startup; $chaos; down -v ${down_s} s; whole script $(($(date +%s) - script_start)) s"
echo "compose-test: 1 passed, 0 failed"
