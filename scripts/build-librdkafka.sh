#!/usr/bin/env bash
# Builds a current librdkafka (2.15.1, what confluent-kafka for Python, Go, .NET and JavaScript
# ship) from the source bundled in the npm package @confluentinc/kafka-javascript, with its own
# `configure`, into a git-ignored cache. Debian's kcat and python3-confluent-kafka then run on it
# through LD_LIBRARY_PATH (librdkafka.so.1 is ABI-stable), so the integration tests can speak to
# Gregor as a 2.15 client does, not only as Debian's 2.0.2.
#
#   bash scripts/build-librdkafka.sh      prints the directory holding librdkafka.so.1
#
# A second run finds the finished build and returns at once. The build needs gcc, make,
# pkg-config and the -dev packages of the codecs it is configured with (.ci/run installs them):
# libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev. Every codec is required, not "try":
# a build that silently lacked zstd or lz4 would fail the compression tests in confusing ways.
set -euo pipefail

librdkafka_version=2.15.1
npm_package=@confluentinc/kafka-javascript@1.10.1
# dist.integrity of that package on the npm registry: the source we build is the one we reviewed.
npm_package_integrity='sha512-KVePUBn21EqCVP9mfxzEuM3SYJHHEF7X+iiC2e43QQgDSyEaksInmCGooT3w5q+cNAdkSCrK71j0ICfqoSqZLw=='

repo_root=$(cd "$(dirname "$0")/.." && pwd)
cache_dir=${LIBRDKAFKA_CACHE_DIR:-$repo_root/.cache/librdkafka}
install_dir=$cache_dir/$librdkafka_version
lib_dir=$install_dir/lib
complete_marker=$install_dir/.complete

# The version the library itself reports, through the same call the clients make.
reported_version() {
  /usr/bin/python3 -c '
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.rd_kafka_version_str.restype = ctypes.c_char_p
print(lib.rd_kafka_version_str().decode())
' "$1"
}

if [ -f "$complete_marker" ] && [ -f "$lib_dir/librdkafka.so.1" ]; then
  echo "$lib_dir"
  exit 0
fi

started_s=$(date +%s)
work_dir=$(mktemp -d)
trap 'rm -rf "$work_dir"' EXIT

echo "build-librdkafka: fetching $npm_package" >&2
tarball=$(cd "$work_dir" && npm pack "$npm_package" --silent --no-audit --no-fund)
actual_integrity=$(node -e '
const { createHash } = require("node:crypto");
const bytes = require("node:fs").readFileSync(process.argv[1]);
console.log(`sha512-${createHash("sha512").update(bytes).digest("base64")}`);
' "$work_dir/$tarball")
if [ "$actual_integrity" != "$npm_package_integrity" ]; then
  echo "build-librdkafka: $tarball has integrity $actual_integrity, expected $npm_package_integrity" >&2
  exit 1
fi
tar -xzf "$work_dir/$tarball" -C "$work_dir" package/deps/librdkafka
source_dir=$work_dir/package/deps/librdkafka

echo "build-librdkafka: configuring librdkafka $librdkafka_version" >&2
(
  cd "$source_dir"
  ./configure --no-download --prefix="$install_dir" \
    --enable-zlib --enable-zstd --enable-lz4-ext --enable-ssl --enable-gssapi --disable-curl
) >"$work_dir/configure.log" 2>&1 || {
  tail -n 40 "$work_dir/configure.log" >&2
  exit 1
}

echo "build-librdkafka: compiling (about a minute on two cores)" >&2
make -C "$source_dir/src" -j"$(nproc)" >"$work_dir/make.log" 2>&1 || {
  tail -n 40 "$work_dir/make.log" >&2
  exit 1
}

built_version=$(reported_version "$source_dir/src/librdkafka.so.1")
if [ "$built_version" != "$librdkafka_version" ]; then
  echo "build-librdkafka: the built library reports $built_version, expected $librdkafka_version" >&2
  exit 1
fi

rm -rf "$install_dir"
mkdir -p "$lib_dir"
cp "$source_dir/src/librdkafka.so.1" "$lib_dir/"
ln -s librdkafka.so.1 "$lib_dir/librdkafka.so"
touch "$complete_marker"
echo "build-librdkafka: librdkafka $built_version in $lib_dir after $(($(date +%s) - started_s)) s" >&2
echo "$lib_dir"
