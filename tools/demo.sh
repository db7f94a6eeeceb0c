#!/bin/bash
# make demo: a private Redis and nginx on loopback, a key store, keys
# created, listed and shown, a signed call that passes and tampered ones
# that are refused.  Everything lives in a temporary directory and stops at
# exit.

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
    [ -f "$DIR/nginx.pid" ] && kill -QUIT "$(cat "$DIR/nginx.pid")" 2>/dev/null
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

# nginx with the module: /api/orders is protected, the backend echoes

NGINX_PORT=$(free_port)
BACKEND_PORT=$(free_port)
mkdir -p "$DIR/tmp"
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"

cat > "$DIR/nginx.conf" <<CONF
load_module $BUILD/ngx_http_apiauth_module.so;
$USER_LINE
pid $DIR/nginx.pid;
error_log $DIR/error.log info;
events {}
http {
    client_body_temp_path $DIR/tmp/body;
    proxy_temp_path $DIR/tmp/proxy;
    fastcgi_temp_path $DIR/tmp/fastcgi;
    uwsgi_temp_path $DIR/tmp/uwsgi;
    scgi_temp_path $DIR/tmp/scgi;

    log_format api '\$status \$apiauth_result \$apiauth_reason '
                   '\$apiauth_access_key "\$apiauth_key_name" \$request';
    access_log $DIR/access.log api;

    apiauth_redis       127.0.0.1:$REDIS_PORT;
    apiauth_master_key  $DIR/master.key;

    # every call, allowed or refused, becomes a record in a Redis stream
    apiauth_records           on;
    apiauth_records_pipeline  spool=$DIR/spool;

    server {
        listen 127.0.0.1:$NGINX_PORT;

        location /api/orders {
            apiauth            any;
            apiauth_app        shop;
            apiauth_interface  orders;
            proxy_pass         http://127.0.0.1:$BACKEND_PORT;
        }
    }

    server {
        listen 127.0.0.1:$BACKEND_PORT;
        access_log off;
        location / { return 200 "backend: \$request_method \$uri\\n"; }
    }
}
CONF

printf '\n\033[1m# nginx with the module on 127.0.0.1:%s\033[0m\n' "$NGINX_PORT"
step nginx -t -p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/error.log"
nginx -p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/error.log"
for _ in $(seq 50); do [ -s "$DIR/nginx.pid" ] && break; sleep 0.1; done
sleep 0.3

apiauth-ctl key enable BackOffice2026 >/dev/null
SECRET=$(apiauth-ctl --json key show BackOffice2026 --reveal \
         | sed 's/.*"access_secret":"\([0-9a-f]*\)".*/\1/')
URL=http://127.0.0.1:$NGINX_PORT/api/orders

printf '\n\033[1m# a signed call (docs/clients/apiauth_client.py)\033[0m\n'
step env APIAUTH_ACCESS_KEY=BackOffice2026 APIAUTH_SECRET="$SECRET" \
    python3 docs/clients/apiauth_client.py GET "$URL?page=1"

printf '\n\033[1m# the same signed headers, sent again: a replay\033[0m\n'
HEADERS=$(APIAUTH_ACCESS_KEY=BackOffice2026 APIAUTH_SECRET="$SECRET" \
          python3 docs/clients/apiauth_client.py --headers GET "$URL")
set --
while IFS= read -r h; do set -- "$@" -H "$h"; done <<HDRS
$HEADERS
HDRS
step curl -s "$@" "$URL"
step curl -s "$@" "$URL"

printf '\n\033[1m# signed for /api/orders, sent to /api/orders/42: tampered\033[0m\n'
HEADERS=$(APIAUTH_ACCESS_KEY=BackOffice2026 APIAUTH_SECRET="$SECRET" \
          python3 docs/clients/apiauth_client.py --headers GET "$URL")
set --
while IFS= read -r h; do set -- "$@" -H "$h"; done <<HDRS
$HEADERS
HDRS
step curl -s "$@" "$URL/42"

printf '\n\033[1m# a token with a wrong secret, and no credentials at all\033[0m\n'
step curl -s -H "X-Api-Key: BackOffice2026.$(printf '0%.0s' $(seq 64))" "$URL"
step curl -s "$URL"

printf '\n\033[1m# a key scoped to another interface\033[0m\n'
USERS=$(apiauth-ctl --json key create --name "Users only" --app shop \
        --interface users)
USERS_AK=$(echo "$USERS" | sed 's/.*"access_key":"\([A-Za-z0-9]*\)".*/\1/')
USERS_SECRET=$(echo "$USERS" | sed 's/.*"access_secret":"\([0-9a-f]*\)".*/\1/')
step curl -s -H "Authorization: Bearer $USERS_AK.$USERS_SECRET" "$URL"

printf '\n\033[1m# what nginx logged ($status $apiauth_result $apiauth_reason ...)\033[0m\n'
sleep 0.2
step cat "$DIR/access.log"

printf '\n\033[1m# the call records: drained from the stream into SQLite, reported\033[0m\n'
step apiauth-ctl records drain --db "$DIR/calls.db"
step apiauth-ctl records report --db "$DIR/calls.db"
step apiauth-ctl records report --db "$DIR/calls.db" --group-by reason
