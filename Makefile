# ngx_http_apiauth_module and apiauth-ctl
#
#   make            build build/ngx_http_apiauth_module.so and build/apiauth-ctl
#   make test       build, then run the whole suite (prove -r t/); SAN=1 for ASan+UBSan
#   make demo       private Redis + nginx on loopback, keys, a signed call
#   make install    module into nginx's modules dir, tool into $(PREFIX)/bin
#   make deps       install missing Debian packages (every target needs it)

SHELL      := /bin/bash

PREFIX     ?= /usr/local
DESTDIR    ?=
NGINX_SRC  ?= /usr/share/nginx/src
MODULES_DIR ?= /usr/lib/nginx/modules
SAN        ?=

ifeq ($(SAN),1)
BUILD      ?= build/san
SAN_FLAGS   = -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
NGX_CC_OPT  = -g -O1 -fPIC $(SAN_FLAGS)
NGX_LD_OPT  = -fPIC $(SAN_FLAGS)
else
BUILD      ?= build
SAN_FLAGS   =
# Debian's own flags for its nginx packages, minus the file-prefix map
NGX_CC_OPT  = -g -O2 -fstack-protector-strong -Wformat \
              -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2
NGX_LD_OPT  = -Wl,-z,relro -Wl,-z,now -fPIC
endif

MOD        := ngx_http_apiauth_module
MOD_DIR    := $(CURDIR)/$(MOD)
MOD_SRCS   := $(wildcard $(MOD)/*.c $(MOD)/*.h) $(MOD)/config
SHARED_SRCS := $(MOD)/apiauth_crypto.c $(MOD)/apiauth_hash.c \
               $(MOD)/apiauth_secret.c \
               $(MOD)/apiauth_key.c \
               $(MOD)/apiauth_ip.c $(MOD)/apiauth_scope.c \
               $(MOD)/apiauth_sign.c $(MOD)/apiauth_policy.c \
               $(MOD)/apiauth_jwt.c $(MOD)/apiauth_jwt_key.c \
               $(MOD)/apiauth_store.c
SHARED_HDRS := $(SHARED_SRCS:.c=.h)

CC         ?= cc
TOOL_CFLAGS = -std=gnu11 -O2 -g -Wall -Wextra -Werror -I$(MOD) \
              -D_FORTIFY_SOURCE=2 $(SAN_FLAGS)
ifeq ($(SAN),1)
TOOL_CFLAGS := $(filter-out -O2 -D_FORTIFY_SOURCE=2,$(TOOL_CFLAGS)) -O1
endif
TOOL_LIBS   = -lhiredis -lcrypto -lsqlite3 $(SAN_FLAGS)
UNIT_LIBS   = -lcrypto $(SAN_FLAGS)
TOOL_SRCS  := $(wildcard tools/*.c)
TOOL_HDRS  := $(wildcard tools/*.h)
LUA_SRCS   := $(sort $(wildcard tools/scripts/*.lua))

UNIT_SRCS  := $(wildcard t/unit/*.c)
UNIT_BINS  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

DEB_PKGS    = nginx nginx-dev redis-server redis-tools libhiredis-dev \
              libssl-dev libpcre2-dev libsqlite3-dev zlib1g-dev wrk curl \
              build-essential python3 python3-prometheus-client python3-jwt \
              sqlite3 perl \
              procps

.PHONY: all deps module tool unit test demo bench install clean

all: module tool unit

# Idempotent: asks dpkg what is there and installs only what is missing.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing$$missing"; \
	    sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	        --no-install-recommends $$missing; \
	fi

module: deps $(BUILD)/$(MOD).so

# nginx's configure runs once per build dir; the module's config file and
# this Makefile are its inputs.  Debian records its configure flags in
# conf_flags; an upstream tree gets --with-compat (and NGINX_CONF_FLAGS).
$(BUILD)/nginx/objs/Makefile: $(MOD)/config Makefile
	rm -rf $(BUILD)/nginx
	mkdir -p $(BUILD)
	cp -a $(NGINX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && \
	if [ -x configure ]; then conf=./configure; else conf=auto/configure; fi; \
	if [ -f conf_flags ]; then . ./conf_flags; \
	else NGX_CONF_FLAGS=(--with-compat $(NGINX_CONF_FLAGS)); fi; \
	$$conf "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt='$(NGX_CC_OPT)' --with-ld-opt='$(NGX_LD_OPT)' \
	    --add-dynamic-module=$(MOD_DIR) > configure.log 2>&1 \
	    || { tail -30 configure.log; exit 1; }

$(BUILD)/$(MOD).so: $(BUILD)/nginx/objs/Makefile $(MOD_SRCS)
	$(MAKE) -s -C $(BUILD)/nginx -f objs/Makefile modules
	cp $(BUILD)/nginx/objs/$(MOD).so $@.tmp && mv $@.tmp $@

tool: deps $(BUILD)/apiauth-ctl

$(BUILD)/scripts.c: $(LUA_SRCS) tools/lua2c.sh
	@mkdir -p $(BUILD)
	sh tools/lua2c.sh $(LUA_SRCS) > $@

$(BUILD)/apiauth-ctl: $(TOOL_SRCS) $(TOOL_HDRS) $(SHARED_SRCS) $(SHARED_HDRS) \
                      $(BUILD)/scripts.c
	@mkdir -p $(BUILD)
	$(CC) $(TOOL_CFLAGS) -Itools -o $@ $(TOOL_SRCS) $(SHARED_SRCS) \
	    $(BUILD)/scripts.c $(TOOL_LIBS)

unit: deps $(UNIT_BINS)

$(BUILD)/unit/%: t/unit/%.c t/unit/tap.h t/unit/json_reader.h \
                 $(SHARED_SRCS) $(SHARED_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(TOOL_CFLAGS) -It/unit -o $@ $< $(SHARED_SRCS) $(UNIT_LIBS)

# The suite finds its binaries through APIAUTH_BUILD.
test: all
	APIAUTH_BUILD=$(CURDIR)/$(BUILD) APIAUTH_SAN=$(SAN) prove -r t/

demo: all
	APIAUTH_BUILD=$(CURDIR)/$(BUILD) bash tools/demo.sh

bench: all $(BUILD)/stages $(BUILD)/jwtbench
	$(BUILD)/stages
	$(BUILD)/jwtbench
	APIAUTH_BUILD=$(CURDIR)/$(BUILD) perl tools/bench/drain.pl
	APIAUTH_BUILD=$(CURDIR)/$(BUILD) perl tools/bench.pl

# a JWT's first verification per algorithm, outside nginx
$(BUILD)/jwtbench: tools/bench/jwt.c $(SHARED_SRCS) $(SHARED_HDRS)
	@mkdir -p $(BUILD)
	$(CC) $(TOOL_CFLAGS) -o $@ tools/bench/jwt.c $(SHARED_SRCS) -lcrypto

# nanoseconds per stage of verifying a signature, outside nginx
$(BUILD)/stages: tools/bench/stages.c $(SHARED_SRCS) $(SHARED_HDRS)
	@mkdir -p $(BUILD)
	$(CC) $(TOOL_CFLAGS) -o $@ tools/bench/stages.c $(SHARED_SRCS) -lcrypto

install: all
	install -d $(DESTDIR)$(MODULES_DIR) $(DESTDIR)$(PREFIX)/bin
	install -m 0644 $(BUILD)/$(MOD).so $(DESTDIR)$(MODULES_DIR)/
	install -m 0755 $(BUILD)/apiauth-ctl $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build
