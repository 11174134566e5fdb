#!/bin/sh
# The image's entry point: runs `gregor "$@"`, on jemalloc with `-e GREGOR_ALLOCATOR=jemalloc`
# (LD_PRELOAD, with MALLOC_CONF unless one is given), as Gregor's other launchers start brokers:
# glibc's malloc keeps the pages of freed Buffers resident, jemalloc gives them back at some CPU
# (packages/broker/README.md, "The allocator"). The default, and `system`, is glibc's malloc.
# The library paths, MALLOC_CONF and the default are those of packages/broker/src/node/allocator.ts
# (a test keeps them equal); a missing library is no error: the broker logs which allocator it runs on.
set -e
case "${GREGOR_ALLOCATOR:-system}" in
  jemalloc | system) ;;
  *)
    echo "GREGOR_ALLOCATOR=${GREGOR_ALLOCATOR} is not an allocator: use jemalloc or system" >&2
    exit 64
    ;;
esac
if [ "${GREGOR_ALLOCATOR:-system}" = jemalloc ]; then
  case "${LD_PRELOAD:-}" in
    *libjemalloc*) ;;
    *)
      for library in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 /usr/lib64/libjemalloc.so.2 /usr/lib/libjemalloc.so.2 /usr/local/lib/libjemalloc.so.2; do
        if [ -f "$library" ]; then
          export LD_PRELOAD="$library${LD_PRELOAD:+:$LD_PRELOAD}"
          export MALLOC_CONF="${MALLOC_CONF-background_thread:true,dirty_decay_ms:1000}"
          break
        fi
      done
      ;;
  esac
fi
exec gregor "$@"
