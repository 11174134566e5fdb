#!/usr/bin/env bash
# Makes what docker-compose.secure.yml mounts (read-only, at /etc/gregor/secrets), with openssl:
#
#   ca.pem, ca.key                 a CA of this cluster's own (the key stays on the host)
#   gregor-N.keystore.pem          node N's PEM keystore: an ECDSA P-256 key and its certificate,
#                                  subject CN=node-N (the nodes' gRPC ties a certificate to the node
#                                  it names), SANs gregor-N, localhost and 127.0.0.1 (what clients and
#                                  peers check the host they dialled against)
#   admin.password                 the SCRAM-SHA-512 password of User:admin (random), which the
#                                  gregor-init service stores in the metadata log at first start
#   client.properties              librdkafka settings for clients on the host (kcat -F FILE)
#   client-container.properties    the same for clients on the compose network (CA path in the
#                                  container)
#
#   scripts/compose-secure-certs.sh [DIR]      (default: ./secrets, which the compose file mounts;
#                                               elsewhere: GREGOR_SECRETS_DIR=DIR docker compose ...)
#
# Refuses to overwrite an existing DIR (remove it to start again). The files the containers read
# belong to uid 1000 (the image's `node` user) when run as root, mode 0600; otherwise they are made
# readable by all (0644), which is fine for a development machine only.
set -euo pipefail
dir=${1:-secrets}
nodes=3
validity_days=825
container_dir=/etc/gregor/secrets
container_uid=1000

if [ -e "$dir" ]; then
  echo "compose-secure-certs: $dir exists; remove it to make new certificates" >&2
  exit 1
fi
command -v openssl >/dev/null || {
  echo "compose-secure-certs: openssl is missing (apt-get install -y openssl)" >&2
  exit 1
}
mkdir -p "$dir"
chmod 0755 "$dir"
dir=$(cd "$dir" && pwd)
cd "$dir"

ec_key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
openssl req -x509 "${ec_key[@]}" -nodes -days "$validity_days" -keyout ca.key -out ca.pem \
  -subj '/CN=Gregor compose CA' 2>/dev/null
chmod 0600 ca.key
chmod 0644 ca.pem

# The container reads it as the image's node user.
container_readable() {
  if [ "$(id -u)" = 0 ]; then
    chown "$container_uid:$container_uid" "$1"
    chmod 0600 "$1"
  else
    chmod 0644 "$1"
  fi
}

for id in $(seq 1 "$nodes"); do
  printf 'subjectAltName=DNS:gregor-%s,DNS:localhost,IP:127.0.0.1\n' "$id" >"gregor-$id.ext"
  openssl req "${ec_key[@]}" -nodes -keyout "gregor-$id.key" -out "gregor-$id.csr" \
    -subj "/CN=node-$id/O=Gregor" 2>/dev/null
  openssl x509 -req -in "gregor-$id.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out "gregor-$id.pem" -days "$validity_days" -extfile "gregor-$id.ext" 2>/dev/null
  cat "gregor-$id.key" "gregor-$id.pem" >"gregor-$id.keystore.pem"
  container_readable "gregor-$id.keystore.pem"
  rm -f "gregor-$id.key" "gregor-$id.csr" "gregor-$id.ext"
done

openssl rand -hex 24 >admin.password
container_readable admin.password
password=$(cat admin.password)
client_properties() {
  printf '%s\n' \
    'security.protocol=SASL_SSL' \
    'sasl.mechanisms=SCRAM-SHA-512' \
    'sasl.username=admin' \
    "sasl.password=$password" \
    "ssl.ca.location=$1"
}
client_properties "$dir/ca.pem" >client.properties
chmod 0600 client.properties
client_properties "$container_dir/ca.pem" >client-container.properties
container_readable client-container.properties
echo "compose-secure-certs: wrote $dir (CA, gregor-1..$nodes keystores, admin password, client properties)"
