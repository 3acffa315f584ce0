/* SPDX-License-Identifier: MIT */
/*
 * Least privilege. vnumad runs as root to act on QEMU processes of other
 * users; after start-up it keeps only the capabilities that this needs (see
 * privs.c for the list and why), clears the bounding set and sets
 * no_new_privs, with libcap-ng.
 */
#ifndef VN_PRIVS_H
#define VN_PRIVS_H

/*
 * Drops every capability but those vnumad needs; a process without
 * capabilities (not root) is left as it is. Returns 0 or a negative errno
 * after logging why.
 */
int privs_drop(void);

/*
 * Makes a capability kept in the permitted set effective for a moment
 * (numab_restore's CAP_SYS_ADMIN); privs_lower undoes it. 0 or -errno.
 */
int privs_raise(int cap);
void privs_lower(int cap);

#endif
