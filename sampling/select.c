// SPDX-License-Identifier: MIT
/*
 * [sampling] source: which counter source a real host uses. auto takes the
 * PMU when it works here and says why when it does not, so that the operator
 * reads once, at start, that the figures are estimates. [sampling] events
 * that do not encode are a configuration error under auto as well: the
 * operator asked for them.
 */
#include <errno.h>
#include <stdio.h>

#include "config.h"
#include "sampling.h"
#include "sampling_impl.h"

/*
 * Whether the PMU source would work: events known, the kernel knows the
 * model, and a trial group opens. *core says whether the events are the
 * core PMU's (counting guest mode), which KVM's mediated vPMU forbids.
 */
static int pmu_usable(const char *events, const struct cpu_id *id, char *msg,
		      size_t len, bool *core)
{
	struct pmu_event ev[PMU_NR_ROLES];
	const struct pmu_model *m;
	char why[SAMPLING_REASON_MAX - 256];

	*core = true;
	if (pmu_resolve(events, id, ev, &m, msg, len) < 0)
		return events ? -EINVAL : -1;
	*core = pmu_counts_core(ev, PMU_NR_ROLES);
	if (!events && pmu_kernel_check(m, why, sizeof(why)) < 0) {
		snprintf(msg, len, "%s", why);
		return -1;
	}
	if (*core && kvm_mediated_pmu(why, sizeof(why)))
		return -EBUSY;		/* said by the caller */
	if (pmu_probe(ev, PMU_NR_ROLES, why, sizeof(why)) < 0) {
		snprintf(msg, len, "%s: %s", events ? "[sampling] events" :
			 m->name, why);
		return -1;
	}
	snprintf(msg, len, "%s", events ? "[sampling] events" : m->name);
	return 0;
}

const struct vn_sampler_ops *sampling_select_cpu(const struct vn_config *cfg,
						 const struct cpu_id *id,
						 char *why, size_t len)
{
	int source = cfg ? cfg->source : VN_SAMPLING_AUTO;
	const char *events = cfg ? cfg->events : NULL;
	char msg[SAMPLING_REASON_MAX], mod[32] = "kvm";
	bool core;

	if (source == VN_SAMPLING_PROCFS) {
		snprintf(why, len, "procfs, as [sampling] source says: locality "
			 "from NUMA fault statistics or estimates, no counters");
		return &procfs_sampler_ops;
	}
	switch (pmu_usable(events, id, msg, sizeof(msg), &core)) {
	case 0:
		snprintf(why, len, "PMU counters: %s", msg);
		return &pmu_sampler_ops;
	case -EINVAL:
		/* events the operator named are wrong: say so, do not fall back */
		snprintf(why, len, "%s", msg);
		return NULL;
	case -EBUSY:
		/*
		 * KVM's mediated vPMU: a core PMU event counting guest mode
		 * makes every new mediated guest fail to start (its first
		 * KVM_CREATE_VCPU gets EBUSY), so vnumad holds none.
		 */
		kvm_mediated_pmu(mod, sizeof(mod));
		snprintf(msg, sizeof(msg), "KVM's mediated vPMU is enabled (%s "
			 "enable_mediated_pmu=Y): while vnumad counted guest mode on "
			 "the core PMU no guest with a mediated PMU could start "
			 "(KVM_CREATE_VCPU fails with EBUSY), and while one runs the "
			 "kernel refuses such counters (EOPNOTSUPP)", mod);
		if (source == VN_SAMPLING_PMU) {
			snprintf(why, len, "[sampling] source = pmu, but %s; set "
				 "[sampling] source = auto or procfs", msg);
			return NULL;
		}
		snprintf(why, len, "procfs, locality figures are estimates: %s; "
			 "node bandwidth from the memory controllers' counters where "
			 "they have them", msg);
		return &procfs_sampler_ops;
	}
	if (source == VN_SAMPLING_PMU) {
		snprintf(why, len, "[sampling] source = pmu, but the PMU cannot "
			 "be used: %s", msg);
		return NULL;
	}
	snprintf(why, len, "procfs, locality figures are estimates: no PMU "
		 "counters: %s", msg);
	return &procfs_sampler_ops;
}

const struct vn_sampler_ops *sampling_select(const struct vn_config *cfg,
					     char *why, size_t len)
{
	struct cpu_id id;

	cpu_identify(&id);
	return sampling_select_cpu(cfg, &id, why, len);
}

/* config.c checks [sampling] events against these without seeing them */
_Static_assert(VN_EVENTS_NR == PMU_NR_ROLES && VN_EVENT_NAME_MAX == PMU_NAME_MAX,
	       "config.h's [sampling] events bounds are not the PMU sampler's");
