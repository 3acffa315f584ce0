# rebalancer/daemon/: the vnumad program: main, the event loop, the control
# socket and its client, status, metrics, privileges, sd_notify and the
# kernel's NUMA balancing. Only vnumad and the tests of these files link it.
DAEMON_SRCS := \
	rebalancer/daemon/client.c \
	rebalancer/daemon/control.c \
	rebalancer/daemon/daemon.c \
	rebalancer/daemon/httpd.c \
	rebalancer/daemon/listen.c \
	rebalancer/daemon/metrics.c \
	rebalancer/daemon/notify.c \
	rebalancer/daemon/numab.c \
	rebalancer/daemon/numad.c \
	rebalancer/daemon/place.c \
	rebalancer/daemon/privs.c \
	rebalancer/daemon/state.c

VNUMAD := $(B)/vnumad
BINS += $(VNUMAD)

$(VNUMAD): $(B)/rebalancer/daemon/main.o $(DAEMON_LIB) $(LINK_LIBS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# vnumad-numad: numad's -w interface for libvirt (numad.c, place.c), a
# program of its own with only the libraries it needs, so that it answers
# within milliseconds of its start: vnumad itself links libvirt and 60-odd
# shared libraries, which take 20 ms and more to load.
VNUMAD_NUMAD := $(B)/vnumad-numad
BINS += $(VNUMAD_NUMAD)
NUMAD_OBJS := $(patsubst %.c,$(B)/%.o,rebalancer/daemon/numad_main.c \
	rebalancer/daemon/numad.c rebalancer/daemon/place.c)
NUMAD_LIBS := $(shell pkg-config --libs numa jansson 2>/dev/null) $(INI_LIBS) -lpthread -lm

# from the backend library the linker takes hostinfo.o alone: no libvirt
$(VNUMAD_NUMAD): $(NUMAD_OBJS) $(BACKEND_LIB) $(BASE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(NUMAD_LIBS)
