# vnumad -- non-recursive GNU make build. Each directory adds a module.mk.
#
#   make                 build vnumad (and the tools)
#   make demo            advisory mode on the built-in simulated host
#   make check           all tests; SANITIZE=address,undefined for sanitizers
#   make bench           performance figures
#   make install         PREFIX=/usr/local DESTDIR=
#   DEVELOPER=1          adds -Werror

VERSION  := 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
SBINDIR  ?= $(PREFIX)/sbin
LIBDIR   ?= $(PREFIX)/lib
INCDIR   ?= $(PREFIX)/include
DATADIR  ?= $(PREFIX)/share
MANDIR   ?= $(DATADIR)/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
DESTDIR  ?=

SANITIZE  ?=
DEVELOPER ?=
QUICK     ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-format-nonliteral
ifneq ($(DEVELOPER),)
WARN    += -Werror
endif

# Sanitizer builds go to their own tree so objects never mix.
comma := ,
ifneq ($(SANITIZE),)
B       := build/san-$(subst $(comma),-,$(SANITIZE))
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
B       := build/default
SANFLAGS :=
endif

PKGS        := libevent libevent_pthreads libvirt numa jansson libcap-ng libxml-2.0 \
               libseccomp
# A missing package fails the build with its name (see pkg-ok below), not
# with a compiler error about a header far from the cause.
PKG_MISSING := $(shell for p in $(PKGS); do pkg-config --exists $$p 2>/dev/null || echo $$p; done)
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libpfm4 and iniparser ship no .pc file on Debian 12.
PFM_CFLAGS  := $(shell pkg-config --cflags libpfm 2>/dev/null)
PFM_LIBS    := $(or $(shell pkg-config --libs libpfm 2>/dev/null),-lpfm)
INI_CFLAGS  := $(or $(shell pkg-config --cflags iniparser 2>/dev/null),-I/usr/include/iniparser)
INI_LIBS    := $(or $(shell pkg-config --libs iniparser 2>/dev/null),-liniparser)
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(or $(shell pkg-config --libs cmocka 2>/dev/null),-lcmocka)

# The layers and what each may include; headers only look down:
#
#   base      rebalancer/base
#   core      + rebalancer/core, policies (the plugin ABI and built-ins)
#   backend   + rebalancer/backend, sampling, sim (the simulated host)
#   top       + rebalancer/daemon, rebalancer/worker, sim/harness: vnumad,
#             vnumad-worker, vnumad-sim, tests
#
# policies/*.c see policies/ alone. The include path of an object follows
# its directory (inc_for), so a header from a layer above does not compile.
INC_POLICY  := -Ipolicies
INC_BASE    := -Irebalancer/base
INC_CORE    := $(INC_BASE) -Irebalancer/core $(INC_POLICY)
INC_BACKEND := $(INC_CORE) -Irebalancer/backend -Isampling -Isim -I$(B)/sim
INC_TOP     := $(INC_BACKEND) -Irebalancer/daemon -Irebalancer/worker -Isim/harness
inc_for = $(strip \
	$(if $(filter rebalancer/base/%,$(1)),$(INC_BASE), \
	$(if $(filter rebalancer/core/%,$(1)),$(INC_CORE), \
	$(if $(filter policies/%,$(1)),$(INC_POLICY), \
	$(if $(filter rebalancer/backend/% sampling/% sim/%.c,$(1)),$(INC_BACKEND), \
	$(INC_TOP))))))

ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DVNUMAD_VERSION='"$(VERSION)"' \
              -DVNUMAD_SYSCONFDIR='"$(SYSCONFDIR)"' \
              -DVNUMAD_POLICYDIR='"$(LIBDIR)/vnumad/policies"' \
              -DVNUMAD_WORKER='"$(LIBDIR)/vnumad/vnumad-worker"' \
              $(WARN) $(PKG_CFLAGS) $(PFM_CFLAGS) $(INI_CFLAGS) \
              $(SANFLAGS) -MMD -MP $(CFLAGS)
# programs and tests see every layer
TOP_CFLAGS  = $(ALL_CFLAGS) $(INC_TOP)
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)
LIBS := $(PKG_LIBS) $(PFM_LIBS) $(INI_LIBS) -lpthread -lm -ldl

# One static library per layer; programs link the layers they use, top first.
BASE_LIB    := $(B)/libvnumad-base.a
CORE_LIB    := $(B)/libvnumad-core.a
BACKEND_LIB := $(B)/libvnumad-backend.a
DAEMON_LIB  := $(B)/libvnumad-daemon.a
LINK_LIBS   := $(BACKEND_LIB) $(CORE_LIB) $(BASE_LIB)

# Filled by the module fragments.
BINS      :=
CLEAN     :=
CHECK_DEPS :=
BENCH_DEPS :=

.PHONY: all check demo bench install uninstall clean deps
all:

include rebalancer/base/module.mk
include rebalancer/core/module.mk
include rebalancer/backend/module.mk
include rebalancer/daemon/module.mk
include rebalancer/worker/module.mk
include policies/module.mk
include sampling/module.mk
include sim/module.mk

# Every library source, by layer; the fuzz build compiles the same list.
LIB_SRCS := $(BASE_SRCS) $(CORE_SRCS) $(POLICY_SRCS) $(BACKEND_SRCS) \
	    $(SAMPLING_SRCS) $(SIM_SRCS) $(DAEMON_SRCS)
objs = $(patsubst %.c,$(B)/%.o,$(1))

include tests/module.mk
include tests/fakeguest.mk
include tests/numavm.mk
include etc/module.mk


all: $(BINS)

$(B)/%.o: %.c | pkg-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(call inc_for,$<) -c -o $@ $<

$(BASE_LIB): $(call objs,$(BASE_SRCS))
$(CORE_LIB): $(call objs,$(CORE_SRCS) $(POLICY_SRCS))
$(BACKEND_LIB): $(call objs,$(BACKEND_SRCS) $(SAMPLING_SRCS) $(SIM_SRCS))
$(DAEMON_LIB): $(call objs,$(DAEMON_SRCS))
$(BASE_LIB) $(CORE_LIB) $(BACKEND_LIB) $(DAEMON_LIB):
	@rm -f $@
	$(AR) rcs $@ $^

.PHONY: pkg-ok
pkg-ok:
	@if [ -n "$(PKG_MISSING)" ]; then \
		echo "vnumad: pkg-config finds no $(PKG_MISSING);" \
		     "'make deps' (etc/deps.sh --ensure) installs the Debian packages" >&2; \
		exit 1; \
	fi

deps:
	@etc/deps.sh --ensure

clean:
	rm -rf build bench.json $(CLEAN)

# this tree's dependency files only: a sanitizer tree's are not ours
-include $(shell find $(B) -name '*.d' 2>/dev/null)
