# rebalancer/: the daemon core and the vnumad binary.
CORE_SRCS += $(filter-out rebalancer/main.c,$(wildcard rebalancer/*.c))

VNUMAD := $(B)/vnumad
BINS += $(VNUMAD)

$(VNUMAD): $(B)/rebalancer/main.o $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
