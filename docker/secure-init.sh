#!/bin/sh
# docker-compose.secure.yml's gregor-init service: stores User:admin's SCRAM-SHA-512 credentials in
# the metadata log, as an operator would with kafka-configs.sh (`gregor users`), through gregor-1's
# ADMIN listener (PLAINTEXT, bound to 127.0.0.1 inside gregor-1's network namespace, which this
# container shares: nothing outside that container reaches it). Tried again until the quorum has
# formed and answers; exits 0 once stored. Running it again sets the same password again.
set -eu
password=$(cat /etc/gregor/secrets/admin.password)
wait_s=180
deadline=$(($(date +%s) + wait_s))
until gregor users --bootstrap-server 127.0.0.1:9095 --alter --entity-type users --entity-name admin \
  --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]" 2>/dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "gregor-init: could not store the admin credentials within ${wait_s} s" >&2
    exit 1
  fi
  sleep 1
done
echo "gregor-init: SCRAM-SHA-512 credentials of User:admin stored"
