#!/usr/bin/env bash
# What Gregor's install and tests need from the system, installed when missing (Debian/Ubuntu, as
# root), or else a stop at once with the exact command to run; then librdkafka 2.15 built once into
# .cache/. Used by `npm test` and `.ci/run`.
#
#   kcat                       librdkafka's command-line client: a real Kafka peer in integration tests
#   python3-kafka              kafka-python, another real client, and an independent record-batch
#                              decoder (through /usr/bin/python3: the python3 on PATH may lack it)
#   python3-snappy, -lz4,      the codecs kafka-python needs to read and write compressed batches
#   -zstandard
#   python3-confluent-kafka    confluent-kafka-python, run on the librdkafka 2.15 built below
#   pkg-config, libssl-dev,    what librdkafka 2.15's configure needs (scripts/build-librdkafka.sh)
#   libsasl2-dev, zlib1g-dev,
#   libzstd-dev, liblz4-dev
#   prometheus                 the metrics test runs Debian's Prometheus server binary itself, with a
#                              config of its own (never the system service); installed without its
#                              recommended node exporter, which is another daemon
#   libjemalloc2               the allocator the launchers preload into brokers where it is installed
#                              (packages/broker/src/node/allocator.ts); tests check the brokers they
#                              start run on it
#   g++, make, python3         npm ci compiles zstd-napi's native addon with them
#   iptables, iproute2,        the chaos campaign (packages/chaos): cuts and lossy links between
#   faketime, util-linux       nodes (iptables), slow links and the loopback of its own network
#                              namespace (ip, tc), one node's clock jumps (libfaketime), and the
#                              namespaces themselves (unshare)
#
#   bash scripts/install-test-deps.sh                 everything above, then librdkafka 2.15
#   bash scripts/install-test-deps.sh --install-only  g++, make and python3 alone: what `npm ci`
#                                                     needs (scripts/lib/setup.mjs, before it)
set -euo pipefail
cd "$(dirname "$0")/.."

install_only=false
[ "${1:-}" = "--install-only" ] && install_only=true

missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
[ -x /usr/bin/python3 ] || command -v python3 >/dev/null 2>&1 || missing+=(python3)
need_prometheus=false
if ! $install_only; then
  command -v kcat >/dev/null 2>&1 || missing+=(kcat)
  if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || missing+=(python3-kafka)
    for module in snappy lz4 zstandard; do
      /usr/bin/python3 -c "import $module" >/dev/null 2>&1 || missing+=("python3-$module")
    done
    /usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || missing+=(python3-confluent-kafka)
  else
    missing+=(python3-kafka python3-snappy python3-lz4 python3-zstandard python3-confluent-kafka)
  fi
  for package in pkg-config libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  command -v prometheus >/dev/null 2>&1 || need_prometheus=true
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  { command -v tc >/dev/null 2>&1 && command -v ip >/dev/null 2>&1; } || missing+=(iproute2)
  dpkg -s libfaketime >/dev/null 2>&1 || missing+=(faketime)
  command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
  dpkg -s libjemalloc2 >/dev/null 2>&1 || missing+=(libjemalloc2)
fi

if [ ${#missing[@]} -gt 0 ] || $need_prometheus; then
  all_missing=("${missing[@]}")
  $need_prometheus && all_missing+=(prometheus)
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Gregor needs these Debian packages, missing here: ${all_missing[*]}" >&2
    echo "There is no apt-get on this machine: install their equivalents with its package manager." >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "Gregor needs these packages, missing here: ${all_missing[*]}" >&2
    echo "Install them, then run the command again:" >&2
    command="  sudo apt-get update"
    [ ${#missing[@]} -gt 0 ] && command+=" && sudo apt-get install -y ${missing[*]}"
    $need_prometheus && command+=" && sudo apt-get install -y --no-install-recommends prometheus"
    echo "$command" >&2
    exit 1
  fi
  echo "Installing ${all_missing[*]}"
  apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
  if $need_prometheus; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
  fi
fi

# librdkafka 2.15 for the integration tests, built once per clean checkout into .cache/ (a second
# run finds it and returns at once).
$install_only || bash scripts/build-librdkafka.sh >/dev/null
