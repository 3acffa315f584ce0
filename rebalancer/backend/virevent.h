/* SPDX-License-Identifier: MIT */
/*
 * libvirt's event loop on the daemon's libevent loop.
 *
 * libvirt needs an event loop for its connection sockets, keepalive and
 * domain events; virEventRegisterImpl hands it ours, so that one
 * single-threaded loop runs everything. The contract libvirt expects (see
 * libvirt-event.h and virEventPollRunOnce, its own implementation):
 *
 *  - handles are level-triggered: a readable fd not drained fires again;
 *  - a timer with a period of N ms repeats every N ms until changed, 0 fires
 *    on every loop iteration, -1 is off;
 *  - after remove returns, the callback is not called any more; the free
 *    callback of the opaque data runs later, from a clean stack (the loop),
 *    never inside remove, which libvirt may call with its own locks held;
 *  - add, update and remove may be called from any thread.
 *
 * The last point needs a libevent base with locking: evthread_use_pthreads()
 * must be called before the event_base is created.
 */
#ifndef VN_VIREVENT_H
#define VN_VIREVENT_H

struct event_base;

/*
 * Binds libvirt's event loop to base; registers the implementation with
 * libvirt on the first call, which must come before the first virConnectOpen.
 * Returns 0, or -1 when bound to another base that still has live watches.
 */
int virevent_register(struct event_base *base);

/*
 * Unbinds from the base: runs the pending free callbacks and releases the
 * libevent events. Watches libvirt still holds are dropped without their
 * free callbacks (libvirt still owns that data). Call after the last
 * virConnectClose and before event_base_free.
 */
void virevent_unregister(void);

/* Handles and timers libvirt holds now (tests). */
int virevent_count(int *handles, int *timers);

#endif
