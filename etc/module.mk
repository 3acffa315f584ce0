# etc/: configuration, dependency setup, and the install/uninstall rules.
INSTALL ?= install
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(LIBDIR)/systemd/system)

# What is installed names the paths of this PREFIX: the configuration's
# `dir` and example scenario, and the paths in the manual pages (written
# for PREFIX=/usr and the default /usr/local/lib policy directory).
# Regenerated on every make, replaced only when it changed.
INSTALL_CONF := $(B)/etc/vnumad.conf
INSTALL_MANS := $(B)/man/vnumad.8 $(B)/man/vnumad.conf.5 $(B)/man/vnumad-sim.1 \
	$(B)/man/vnumad-policy.7
install_paths = sed -e 's|/etc/vnumad\.conf|$(SYSCONFDIR)/vnumad.conf|g' \
	-e 's|/usr\(/local\)\{0,1\}/lib/vnumad/policies|$(POLICYDIR)|g' \
	-e 's|/usr/share/vnumad/|$(DATADIR)/vnumad/|g' \
	-e 's|/usr/include/vnumad/|$(INCDIR)/vnumad/|g' \
	-e 's|/usr/share/pkgconfig/|$(PKGCONFIGDIR)/|g'

$(INSTALL_CONF): etc/vnumad.conf FORCE
	@mkdir -p $(dir $@)
	@$(install_paths) $< > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(B)/man/%: FORCE
	@mkdir -p $(dir $@)
	@$(install_paths) $(filter %/$*,rebalancer/vnumad.8 rebalancer/vnumad.conf.5 \
		sim/vnumad-sim.1 policies/vnumad-policy.7) > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi


install: all $(INSTALL_CONF) $(INSTALL_MANS)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(INCDIR)/vnumad \
		$(DESTDIR)$(DATADIR)/vnumad/scenarios/bench $(DESTDIR)$(SYSCONFDIR) \
		$(DESTDIR)$(LIBDIR)/vnumad/policies $(DESTDIR)$(SYSTEMDUNITDIR)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 0755 $(VNUMAD) $(DESTDIR)$(SBINDIR)/vnumad
	$(INSTALL) -m 0755 $(VNUMAD_NUMAD) $(DESTDIR)$(SBINDIR)/vnumad-numad
	$(INSTALL) -m 0755 $(VNUMAD_SIM) $(DESTDIR)$(BINDIR)/vnumad-sim
	@# the policy worker, where vnumad looks for it ($(LIBDIR)/vnumad)
	$(INSTALL) -m 0755 $(VNUMAD_WORKER) $(DESTDIR)$(LIBDIR)/vnumad/vnumad-worker
	$(INSTALL) -m 0644 $(B)/man/vnumad-sim.1 $(DESTDIR)$(MANDIR)/man1/vnumad-sim.1
	@# the unit names the binary where this prefix puts it
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' etc/vnumad.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/vnumad.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/vnumad.service
	$(INSTALL) -m 0644 $(B)/man/vnumad.8 $(DESTDIR)$(MANDIR)/man8/vnumad.8
	$(INSTALL) -m 0644 $(B)/man/vnumad.conf.5 $(DESTDIR)$(MANDIR)/man5/vnumad.conf.5
	$(INSTALL) -m 0644 policies/policy.h $(DESTDIR)$(INCDIR)/vnumad/policy.h
	$(INSTALL) -m 0644 sim/scenarios/*.ini $(DESTDIR)$(DATADIR)/vnumad/scenarios/
	$(INSTALL) -m 0644 sim/scenarios/bench/*.ini $(DESTDIR)$(DATADIR)/vnumad/scenarios/bench/
	$(INSTALL) -m 0644 $(INSTALL_CONF) $(DESTDIR)$(DATADIR)/vnumad/vnumad.conf.example
	$(INSTALL) -m 0644 etc/grafana-vnumad.json $(DESTDIR)$(DATADIR)/vnumad/grafana-vnumad.json
	@# an operator's configuration is never overwritten
	test -e $(DESTDIR)$(SYSCONFDIR)/vnumad.conf || \
		$(INSTALL) -m 0644 $(INSTALL_CONF) $(DESTDIR)$(SYSCONFDIR)/vnumad.conf

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/vnumad $(DESTDIR)$(SBINDIR)/vnumad-numad \
		$(DESTDIR)$(MANDIR)/man8/vnumad.8 \
		$(DESTDIR)$(BINDIR)/vnumad-sim $(DESTDIR)$(MANDIR)/man1/vnumad-sim.1 \
		$(DESTDIR)$(LIBDIR)/vnumad/vnumad-worker \
		$(DESTDIR)$(SYSTEMDUNITDIR)/vnumad.service \
		$(DESTDIR)$(MANDIR)/man5/vnumad.conf.5 \
		$(DESTDIR)$(INCDIR)/vnumad/policy.h \
		$(DESTDIR)$(DATADIR)/vnumad/vnumad.conf.example \
		$(DESTDIR)$(DATADIR)/vnumad/grafana-vnumad.json
	rm -rf $(DESTDIR)$(DATADIR)/vnumad/scenarios
	-rmdir $(DESTDIR)$(INCDIR)/vnumad $(DESTDIR)$(DATADIR)/vnumad \
		$(DESTDIR)$(LIBDIR)/vnumad/policies $(DESTDIR)$(LIBDIR)/vnumad 2>/dev/null
	@# $(SYSCONFDIR)/vnumad.conf is the operator's: left in place

# numad's -w interface behind the path libvirt runs for placement='auto'
# (vnumad(8), "libvirt's numad interface"): a local dpkg diversion moves
# Debian's numad, if installed, to $(NUMAD_PATH).distrib and keeps it there
# across upgrades of the numad package; the path becomes a link to
# vnumad-numad, installed by `make install`. uninstall-numad takes the link
# away and the diversion back (numad's own file returns). They change this
# system's $(NUMAD_PATH), so no DESTDIR: a package does the same in its
# maintainer scripts.
NUMAD_PATH ?= /usr/bin/numad
DPKG_DIVERT ?= dpkg-divert

.PHONY: install-numad uninstall-numad
install-numad:
	@if [ -n "$(DESTDIR)" ]; then \
		echo "install-numad changes this system's $(NUMAD_PATH): not with DESTDIR" >&2; exit 1; fi
	@test -x $(SBINDIR)/vnumad-numad || { \
		echo "$(SBINDIR)/vnumad-numad is not installed: make install first" >&2; exit 1; }
	$(DPKG_DIVERT) --local --rename --divert $(NUMAD_PATH).distrib --add $(NUMAD_PATH)
	ln -sfn $(SBINDIR)/vnumad-numad $(NUMAD_PATH)

uninstall-numad:
	@if [ -n "$(DESTDIR)" ]; then \
		echo "uninstall-numad changes this system's $(NUMAD_PATH): not with DESTDIR" >&2; exit 1; fi
	@# only our link goes: a file someone put there since stays
	if [ "$$(readlink $(NUMAD_PATH))" = "$(SBINDIR)/vnumad-numad" ]; then rm -f $(NUMAD_PATH); fi
	$(DPKG_DIVERT) --local --rename --divert $(NUMAD_PATH).distrib --remove $(NUMAD_PATH)
