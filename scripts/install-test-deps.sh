#!/usr/bin/env bash
# The system packages Gregor's install and tests need, installed when missing (Debian/Ubuntu, as
# root), or else a stop at once with the exact command to run. Used by `npm test` and `.ci/run`.
#
#   kcat                       librdkafka's command-line client: a real Kafka peer in integration tests
#   python3-kafka              kafka-python, another real client, and an independent record-batch
#                              decoder (through /usr/bin/python3: the python3 on PATH may lack it)
#   python3-snappy, -lz4,      the codecs kafka-python needs to read and write compressed batches
#   -zstandard
#   g++, make                  npm ci compiles zstd-napi's native addon with them (and python3)
set -euo pipefail

missing=()
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
if [ -x /usr/bin/python3 ]; then
  /usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || missing+=(python3-kafka)
  for module in snappy lz4 zstandard; do
    /usr/bin/python3 -c "import $module" >/dev/null 2>&1 || missing+=("python3-$module")
  done
else
  missing+=(python3 python3-kafka python3-snappy python3-lz4 python3-zstandard)
fi
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)

[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Gregor's tests need these Debian packages, missing here: ${missing[*]}" >&2
  echo "There is no apt-get on this machine: install their equivalents with its package manager." >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Gregor's tests need these packages, missing here: ${missing[*]}" >&2
  echo "Install them, then run the tests again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
