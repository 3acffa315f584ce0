/* SPDX-License-Identifier: MIT */
#ifndef VN_NUMAD_H
#define VN_NUMAD_H

/*
 * numad's -w interface for libvirt (numad.c): argv as numad's command line
 * (argv[0] the program). Prints the node set and returns the exit status:
 * 0 with a best-effort answer, 1 for a command line it cannot answer.
 */
int numad_main(int argc, char **argv);

#endif
