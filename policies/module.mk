# policies/: the built-in policies, linked into the core library (they see
# policy.h and policies.h only, so each could be built as a plugin), and the SDK for
# plugins built out of tree: the header (installed by etc/module.mk), the
# pkg-config file vnumad-policy.pc and the manual page vnumad-policy(7).
POLICY_SRCS := \
	policies/brm.c \
	policies/chaos.c \
	policies/common.c \
	policies/locality.c \
	policies/none.c \
	policies/numad.c \
	policies/place.c \
	policies/registry.c \
	policies/spread.c \
	policies/static.c

POLICY_PC := $(B)/policies/vnumad-policy.pc
POLICY_ABI := $(shell sed -n 's/^\#define VNUMAD_POLICY_ABI_MAJOR[[:space:]]*//p' policies/policy.h)
PKGCONFIGDIR ?= $(DATADIR)/pkgconfig

# A directory under PREFIX as ${prefix}/..., so that the file relocates.
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

# Regenerated on every make, replaced only when it changed: PREFIX and the
# directories may differ between `make` and `make install PREFIX=/usr`.
$(POLICY_PC): policies/vnumad-policy.pc.in FORCE
	@mkdir -p $(dir $@)
	@sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@INCDIR@|$(call pc_rel,$(INCDIR))|g' \
	    -e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR))|g' \
	    -e 's|@POLICYDIR@|$(call pc_rel,$(POLICYDIR))|g' \
	    -e 's|@ABI_MAJOR@|$(POLICY_ABI)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

all: $(POLICY_PC)

.PHONY: install-sdk uninstall-sdk

install: install-sdk
uninstall: uninstall-sdk

install-sdk: $(POLICY_PC) $(B)/man/vnumad-policy.7
	install -d $(DESTDIR)$(INCDIR)/vnumad $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANDIR)/man7
	install -m 0644 policies/policy.h $(DESTDIR)$(INCDIR)/vnumad/policy.h
	install -m 0644 $(POLICY_PC) $(DESTDIR)$(PKGCONFIGDIR)/vnumad-policy.pc
	install -m 0644 $(B)/man/vnumad-policy.7 $(DESTDIR)$(MANDIR)/man7/vnumad-policy.7

uninstall-sdk:
	@# the header goes with etc/module.mk's uninstall; shared directories stay
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/vnumad-policy.pc \
		$(DESTDIR)$(MANDIR)/man7/vnumad-policy.7
