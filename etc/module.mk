# etc/: configuration, dependency setup, and the install/uninstall rules.
INSTALL ?= install
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(LIBDIR)/systemd/system)


install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(INCDIR)/vnumad \
		$(DESTDIR)$(DATADIR)/vnumad/scenarios $(DESTDIR)$(SYSCONFDIR) \
		$(DESTDIR)$(LIBDIR)/vnumad/policies $(DESTDIR)$(SYSTEMDUNITDIR)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 0755 $(VNUMAD) $(DESTDIR)$(SBINDIR)/vnumad
	$(INSTALL) -m 0755 $(VNUMAD_NUMAD) $(DESTDIR)$(SBINDIR)/vnumad-numad
	$(INSTALL) -m 0755 $(VNUMAD_SIM) $(DESTDIR)$(BINDIR)/vnumad-sim
	@# the policy worker, where vnumad looks for it ($(LIBDIR)/vnumad)
	$(INSTALL) -m 0755 $(VNUMAD_WORKER) $(DESTDIR)$(LIBDIR)/vnumad/vnumad-worker
	$(INSTALL) -m 0644 sim/vnumad-sim.1 $(DESTDIR)$(MANDIR)/man1/vnumad-sim.1
	@# the unit names the binary where this prefix puts it
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' etc/vnumad.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/vnumad.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/vnumad.service
	$(INSTALL) -m 0644 rebalancer/vnumad.8 $(DESTDIR)$(MANDIR)/man8/vnumad.8
	$(INSTALL) -m 0644 rebalancer/vnumad.conf.5 $(DESTDIR)$(MANDIR)/man5/vnumad.conf.5
	$(INSTALL) -m 0644 policies/policy.h $(DESTDIR)$(INCDIR)/vnumad/policy.h
	$(INSTALL) -m 0644 sim/scenarios/*.ini $(DESTDIR)$(DATADIR)/vnumad/scenarios/
	$(INSTALL) -m 0644 etc/vnumad.conf $(DESTDIR)$(DATADIR)/vnumad/vnumad.conf.example
	@# an operator's configuration is never overwritten
	test -e $(DESTDIR)$(SYSCONFDIR)/vnumad.conf || \
		$(INSTALL) -m 0644 etc/vnumad.conf $(DESTDIR)$(SYSCONFDIR)/vnumad.conf

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/vnumad $(DESTDIR)$(SBINDIR)/vnumad-numad \
		$(DESTDIR)$(MANDIR)/man8/vnumad.8 \
		$(DESTDIR)$(BINDIR)/vnumad-sim $(DESTDIR)$(MANDIR)/man1/vnumad-sim.1 \
		$(DESTDIR)$(LIBDIR)/vnumad/vnumad-worker \
		$(DESTDIR)$(SYSTEMDUNITDIR)/vnumad.service \
		$(DESTDIR)$(MANDIR)/man5/vnumad.conf.5 \
		$(DESTDIR)$(INCDIR)/vnumad/policy.h \
		$(DESTDIR)$(DATADIR)/vnumad/vnumad.conf.example
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
