# rebalancer/worker/: vnumad-worker, the process policy plugins run in
# (launcher, worker, sandbox). It links the wire of the core (wire.c) and
# the C library, dl and libseccomp alone: nothing else of vnumad.
WORKER_SRCS := \
	rebalancer/worker/main.c \
	rebalancer/worker/sandbox.c \
	rebalancer/worker/serve.c

VNUMAD_WORKER := $(B)/vnumad-worker
BINS += $(VNUMAD_WORKER)

$(VNUMAD_WORKER): $(WORKER_SRCS:%.c=$(B)/%.o) $(B)/rebalancer/core/wire.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell pkg-config --libs libseccomp 2>/dev/null) -ldl
