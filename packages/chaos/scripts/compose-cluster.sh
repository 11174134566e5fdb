#!/usr/bin/env bash
# The docker-compose cluster for `npm run chaos -- --target compose`:
#   compose-cluster.sh up     make this machine a Docker host if it is not one (podman, as
#                             scripts/compose-test.sh does), build the gregor image, start
#                             docker-compose.yml under the project name gregor-chaos with empty
#                             volumes; prints DOCKER_HOST=... on its last line for the faults
#   compose-cluster.sh down   unpause, stop and remove that project's containers and volumes, and
#                             the podman API service if `up` started it
set -euo pipefail
cd "$(dirname "$0")/../../.."
repo=$(pwd)
source scripts/lib/podman-docker-host.sh
project=gregor-chaos
compose=(docker-compose --project-name "$project" --file "$repo/docker-compose.yml")

case "${1:-}" in
up)
  if [ -z "${DOCKER_HOST:-}" ] && ! docker version >/dev/null 2>&1; then setup_podman_docker_host; fi
  output=$(mktemp /tmp/gregor-build.XXXXXX)
  docker build --tag gregor:latest . >"$output" 2>&1 || { tail -n 60 "$output" >&2; rm -f "$output"; exit 1; }
  rm -f "$output"
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  "${compose[@]}" up -d --no-build gregor-1 gregor-2 gregor-3 >&2
  echo "DOCKER_HOST=${DOCKER_HOST:-}"
  ;;
down)
  [ -f "$PODMAN_SERVICE_PID_FILE" ] && export DOCKER_HOST="unix://$podman_socket"
  for id in 1 2 3; do docker unpause "gregor-$id" >/dev/null 2>&1 || true; done
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  stop_podman_service
  ;;
*)
  echo "usage: $0 up|down" >&2
  exit 2
  ;;
esac
