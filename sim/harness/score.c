// SPDX-License-Identifier: MIT
/*
 * The score of a run: how fast each guest went, against how fast it would
 * have gone alone on the host, best placed (the reference, oracle.c).
 *
 * A guest's progress is its instructions over the run divided by the
 * reference's over the same stretches: 1 when it lost nothing to the other
 * guests or to its placement, 0.5 when it did half the work it could have.
 * The score of a run is the geometric mean of its guests' progress, and the
 * guest with the lowest progress is reported beside it. This is the
 * weighted-speedup family of multiprogram metrics (Snavely and Tullsen,
 * ASPLOS 2000; Eyerman and Eeckhout, IEEE Micro 2008, whose normalised
 * progress it is): unlike the sum of instructions per second, it does not
 * reward starving a memory-bound guest to speed up a compute-bound one,
 * whose instructions are cheaper. Guests that never ran in the run (they
 * arrive after its end, or found the host full) have no progress.
 */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "util.h"

double hs_geomean(const double *x, int n)
{
	double sum = 0;

	if (n <= 0)
		return 0;
	for (int i = 0; i < n; i++)
		sum += log(MAX(x[i], 1e-9));
	return exp(sum / n);
}

void hs_score_result(struct hs_result *r, const struct hs_reference *ref)
{
	double logsum = 0;

	free(r->progress);
	r->progress = xcalloc(r->nr_guests + 1, sizeof(double));
	r->scored = 0;
	r->worst = INFINITY;
	r->worst_guest = -1;
	for (int g = 0; g < r->nr_guests; g++) {
		double p;

		r->progress[g] = -1;
		if (g >= ref->nr_guests || ref->alive[g] <= 0 || ref->solo[g] <= 0)
			continue;
		p = r->guest_ips[g] / ref->solo[g];
		r->progress[g] = p;
		logsum += log(MAX(p, 1e-9));
		r->scored++;
		if (p < r->worst) {
			r->worst = p;
			r->worst_guest = g;
		}
	}
	r->score = r->scored ? exp(logsum / r->scored) : 0;
	if (!r->scored)
		r->worst = 0;
}
