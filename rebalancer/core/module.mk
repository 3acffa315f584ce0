# rebalancer/core/: the tick, one file per stage, and what the stages share:
# the host, the configuration, the journal, the trace, the policy runtime.
# It sees base/ and the plugin ABI (policies/), nothing of backend/ or
# daemon/: the caller hands it a backend and a counter source.
CORE_SRCS := \
	rebalancer/core/actuate.c \
	rebalancer/core/arbiter.c \
	rebalancer/core/config.c \
	rebalancer/core/core.c \
	rebalancer/core/guard.c \
	rebalancer/core/history.c \
	rebalancer/core/host.c \
	rebalancer/core/inventory.c \
	rebalancer/core/journal.c \
	rebalancer/core/migration.c \
	rebalancer/core/model.c \
	rebalancer/core/plugin.c \
	rebalancer/core/publish.c \
	rebalancer/core/record.c \
	rebalancer/core/sample.c \
	rebalancer/core/trace.c \
	rebalancer/core/wire.c \
	rebalancer/core/worker.c
