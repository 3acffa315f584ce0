# rebalancer/backend/: what the core drives on a real host (libvirt, proc,
# trace replay, the memory mover, libvirt's event loop on ours) and the
# registry through which callers pick a backend and a counter source.
BACKEND_SRCS := \
	rebalancer/backend/hostinfo.c \
	rebalancer/backend/libvirt.c \
	rebalancer/backend/lvstate.c \
	rebalancer/backend/mover.c \
	rebalancer/backend/proc.c \
	rebalancer/backend/registry.c \
	rebalancer/backend/replay.c \
	rebalancer/backend/virevent.c \
	rebalancer/backend/vmm.c
