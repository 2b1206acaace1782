#!/bin/sh
# Makes what deploy/secured/docker-compose.yml reads from files: a CA, a server certificate for
# the broker and Redis (names redpanda, redis, localhost, 127.0.0.1), and random passwords for
# the Kafka user `kpi` and for Redis. Writes into DIR (default: deploy/secured/out, ignored by
# git); existing files are kept, so running it twice changes nothing.
#   sh deploy/secured/make-secrets.sh [DIR]
set -eu
out=${1:-$(dirname "$0")/out}
mkdir -p "$out"
cd "$out"
umask 077
[ -f ca.pem ] || openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=kpi-stack CA" \
    -keyout ca.key -out ca.pem 2>/dev/null
if [ ! -f server.pem ]; then
    printf 'subjectAltName=DNS:redpanda,DNS:redis,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=redpanda" -keyout server.key \
        -out server.csr 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
        -extfile server.ext -out server.pem 2>/dev/null
    rm -f server.csr server.ext
fi
[ -f kafka_password ] || openssl rand -hex 24 > kafka_password
[ -f redis_password ] || openssl rand -hex 24 > redis_password
# The containers run as other users: certificates and keys readable, the CA key not needed.
chmod 0644 ca.pem server.pem server.key kafka_password redis_password
echo "secrets in $out"
