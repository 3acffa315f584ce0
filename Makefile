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

PKGS        := libevent libevent_pthreads libvirt numa jansson libcap-ng libxml-2.0
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libpfm4 and iniparser ship no .pc file on Debian 12.
PFM_CFLAGS  := $(shell pkg-config --cflags libpfm 2>/dev/null)
PFM_LIBS    := $(or $(shell pkg-config --libs libpfm 2>/dev/null),-lpfm)
INI_CFLAGS  := $(or $(shell pkg-config --cflags iniparser 2>/dev/null),-I/usr/include/iniparser)
INI_LIBS    := $(or $(shell pkg-config --libs iniparser 2>/dev/null),-liniparser)
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(or $(shell pkg-config --libs cmocka 2>/dev/null),-lcmocka)

ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DVNUMAD_VERSION='"$(VERSION)"' \
              -DVNUMAD_SYSCONFDIR='"$(SYSCONFDIR)"' \
              -DVNUMAD_POLICYDIR='"$(LIBDIR)/vnumad/policies"' \
              -Irebalancer -Ipolicies -Isampling -Isim \
              $(WARN) $(PKG_CFLAGS) $(PFM_CFLAGS) $(INI_CFLAGS) \
              $(SANFLAGS) -MMD -MP $(CFLAGS)
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)
LIBS := $(PKG_LIBS) $(PFM_LIBS) $(INI_LIBS) -lpthread -lm -ldl

CORE_LIB  := $(B)/libvnumad-core.a

# Filled by the module fragments.
CORE_SRCS :=
BINS      :=
CLEAN     :=
CHECK_DEPS :=
BENCH_DEPS :=

.PHONY: all check demo bench install uninstall clean deps
all:

include rebalancer/module.mk
include policies/module.mk
include sampling/module.mk
include sim/module.mk
include tests/module.mk
include tests/fakeguest.mk
include tests/numavm.mk
include etc/module.mk

CORE_OBJS := $(CORE_SRCS:%.c=$(B)/%.o)

all: $(BINS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

deps:
	@etc/deps.sh --ensure

clean:
	rm -rf build bench.json $(CLEAN)

-include $(shell find build -name '*.d' 2>/dev/null)
