#!/bin/bash
# make demo: a private Redis on loopback, a key store, keys created, listed
# and shown.  Everything lives in a temporary directory and stops at exit.

set -euo pipefail

BUILD=${APIAUTH_BUILD:-$(pwd)/build}
CTL=$BUILD/apiauth-ctl
DIR=$(mktemp -d /tmp/apiauth-demo.XXXXXX)
chmod 755 "$DIR"

free_port() {
    perl -MIO::Socket::INET -e \
        'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                     LocalPort => 0)->sockport'
}

cleanup() {
    [ -f "$DIR/redis.pid" ] && kill "$(cat "$DIR/redis.pid")" 2>/dev/null
    sleep 0.2
    rm -rf "$DIR"
}
trap cleanup EXIT

step() {
    printf '\n\033[1m$ %s\033[0m\n' "$*"
    "$@"
}

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
    --appendonly yes --dir "$DIR" --daemonize yes \
    --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >/dev/null
for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
done

export APIAUTH_REDIS=redis://127.0.0.1:$REDIS_PORT/0
export APIAUTH_MASTER_KEY=$DIR/master.key
export PATH=$BUILD:$PATH

echo "A private Redis on 127.0.0.1:$REDIS_PORT, files in $DIR"

step apiauth-ctl init
step apiauth-ctl doctor
step apiauth-ctl interface add orders --url https://api.example.com/orders --app shop
step apiauth-ctl interface add users --url https://api.example.com/users --app crm
step apiauth-ctl key create --name "Shop partner" --app shop \
    --ip 10.0.0.0/8 --ip "192.168.1.*" --expires 90d
step apiauth-ctl key create --name "Back office" --access-key BackOffice2026
step apiauth-ctl key scope BackOffice2026 --apps shop,crm --interfaces orders,users
step apiauth-ctl key list
step apiauth-ctl key show BackOffice2026
step apiauth-ctl key disable BackOffice2026
step apiauth-ctl key list --status disabled
step apiauth-ctl --json key show BackOffice2026
