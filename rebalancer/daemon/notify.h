/* SPDX-License-Identifier: MIT */
#ifndef VN_NOTIFY_H
#define VN_NOTIFY_H

#include <stdint.h>

/*
 * The service manager's notify protocol (sd_notify(3)): datagrams such as
 * "READY=1" to the socket named by $NOTIFY_SOCKET. Without the variable
 * every call does nothing, so the daemon runs the same under any manager.
 */
void notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * The watchdog period the service manager asks for ($WATCHDOG_USEC, when
 * $WATCHDOG_PID is unset or this process), in microseconds; 0 for none.
 */
uint64_t notify_watchdog_usec(void);

#endif
