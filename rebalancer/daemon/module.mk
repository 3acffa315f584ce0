# rebalancer/daemon/: the vnumad program: main, the event loop, the control
# socket and its client, status, metrics, privileges, sd_notify and the
# kernel's NUMA balancing. Only vnumad and the tests of these files link it.
DAEMON_SRCS := \
	rebalancer/daemon/client.c \
	rebalancer/daemon/control.c \
	rebalancer/daemon/daemon.c \
	rebalancer/daemon/metrics.c \
	rebalancer/daemon/notify.c \
	rebalancer/daemon/numab.c \
	rebalancer/daemon/place.c \
	rebalancer/daemon/privs.c \
	rebalancer/daemon/state.c

VNUMAD := $(B)/vnumad
BINS += $(VNUMAD)

$(VNUMAD): $(B)/rebalancer/daemon/main.o $(DAEMON_LIB) $(LINK_LIBS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

