// SPDX-License-Identifier: MIT
/*
 * vnumad-numad: numad's -w interface for libvirt as a program of its own
 * (numad.c), installed behind /usr/bin/numad by `make install-numad`.
 */
#include "numad.h"

int main(int argc, char **argv)
{
	return numad_main(argc, argv);
}
