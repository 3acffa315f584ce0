// SPDX-License-Identifier: MIT
/*
 * Which events count local and remote DRAM accesses on which CPU, and their
 * encoding through libpfm4.
 *
 * The model comes from CPUID family and model, not from what libpfm4
 * detects: 4.13 misses Emerald Rapids, Granite Rapids, most Zen 4 parts and
 * Zen 5. The table names each model's events in a libpfm4 PMU table, and the
 * names are encoded PMU-qualified ("spr::OCR:...") with
 * LIBPFM_ENCODE_INACTIVE=1, which lets libpfm4 encode for a PMU it did not
 * detect. Every entry also records the encoding libpfm4 must produce; the
 * unit tests check each one under LIBPFM_FORCE_PMU and open() warns when the
 * installed libpfm4 disagrees.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "log.h"
#include "sampling_impl.h"
#include "util.h"

const char *const pmu_role_names[PMU_NR_ROLES] = {
	"cycles", "instructions", "local DRAM", "remote DRAM",
};

/*
 * Intel core PMUs count cycles and instructions on fixed counters with the
 * architectural events; AMD's are programmable. The DRAM events, local and
 * "not local" (everything a vCPU's node does not serve itself):
 * SNB-EP..BDX: offcore response, demand data reads by supplier (MSR value
 * in config1, Intel's matrix files); SKX/CLX: retired loads that missed L3,
 * by source; ICX and later: offcore response (OCR on SPR and later, where
 * the kernel moves the second of two OCR events of a group to event 0x2b,
 * the other MSR) with the not-local mask covering the distant SNC clusters,
 * the other socket and PMM / CXL memory; AMD: demand data cache fills by
 * source, near (local) and far DRAM or IO, with Zen 4's extension memory on
 * the far side. sampling/EVENTS.md gives the source of every value.
 */
#define INTEL_CYC_INS	"UNHALTED_CORE_CYCLES", "INSTRUCTION_RETIRED"
#define INTEL_CFG(l, r)	{ 0x3c, 0xc0, l, r }
#define AMD_CYC_INS	"CYCLES_NOT_IN_HALT", "RETIRED_INSTRUCTIONS"
#define AMD_CFG(l, r)	{ 0x76, 0xc0, l, r }

/* caps/pmu_name of kernels that know the model (arch/x86/events/intel/core.c) */
static const char *const snb_names[] = { "sandybridge", NULL };
static const char *const ivb_names[] = { "ivybridge", NULL };
static const char *const hsw_names[] = { "haswell", NULL };
static const char *const bdw_names[] = { "broadwell", NULL };
static const char *const skl_names[] = { "skylake", NULL };
static const char *const icl_names[] = { "icelake", NULL };
static const char *const spr_names[] = { "sapphire_rapids", NULL };
/* kernels before the Granite Rapids name gave it Sapphire Rapids' */
static const char *const gnr_names[] = { "granite_rapids", "sapphire_rapids", NULL };

static const struct pmu_table tab_snb_ep = {
	"snb_ep",
	{ INTEL_CYC_INS,
	  "OFFCORE_RESPONSE_1:DMND_DATA_RD:LLC_MISS_LOCAL_DRAM:SNP_MISS:SNP_NO_FWD",
	  "OFFCORE_RESPONSE_0:DMND_DATA_RD:LLC_MISS_REMOTE_DRAM:SNP_MISS:SNP_NO_FWD" },
	INTEL_CFG(0x1bb, 0x1b7), { 0, 0, 0x600400001, 0x67f800001 }, { 0 }, snb_names,
};

static const struct pmu_table tab_ivb_ep = {
	"ivb_ep",
	{ INTEL_CYC_INS,
	  "OFFCORE_RESPONSE_1:DMND_DATA_RD:LLC_MISS_LOCAL:SNP_MISS:SNP_NO_FWD",
	  "OFFCORE_RESPONSE_0:DMND_DATA_RD:LLC_MISS_REMOTE_DRAM:SNP_MISS:SNP_NO_FWD" },
	INTEL_CFG(0x1bb, 0x1b7), { 0, 0, 0x600400001, 0x67f800001 }, { 0 }, ivb_names,
};

/*
 * Haswell-EP and Broadwell-EP: Intel's matrix files give remote DRAM as
 * every L3-miss DRAM supplier bit but the local one (0x63F800001 and
 * 0x63BC00001); libpfm4 4.13 can name only bits 27-29 (0x638000001), so
 * vnumad sets Intel's value itself.
 */
static const struct pmu_table tab_hsw_ep = {
	"hsw_ep",
	{ INTEL_CYC_INS,
	  "OFFCORE_RESPONSE_1:DMND_DATA_RD:L3_MISS_LOCAL:SNP_MISS:SNP_NO_FWD",
	  "OFFCORE_RESPONSE_0:DMND_DATA_RD:L3_MISS_REMOTE_DRAM:SNP_MISS:SNP_NO_FWD" },
	INTEL_CFG(0x1bb, 0x1b7), { 0, 0, 0x600400001, 0x63f800001 },
	{ 0, 0, 0, 0x638000001 }, hsw_names,
};

static const struct pmu_table tab_bdw_ep = {
	"bdw_ep",
	{ INTEL_CYC_INS,
	  "OFFCORE_RESPONSE_1:DMND_DATA_RD:L3_MISS_LOCAL:SNP_MISS:SNP_NO_FWD",
	  "OFFCORE_RESPONSE_0:DMND_DATA_RD:L3_MISS_REMOTE_DRAM:SNP_MISS:SNP_NO_FWD" },
	INTEL_CFG(0x1bb, 0x1b7), { 0, 0, 0x604000001, 0x63bc00001 },
	{ 0, 0, 0, 0x638000001 }, bdw_names,
};

static const struct pmu_table tab_skx = {
	"skx",
	{ INTEL_CYC_INS, "MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM",
	  "MEM_LOAD_L3_MISS_RETIRED:REMOTE_DRAM" },
	INTEL_CFG(0x1d3, 0x2d3), { 0 }, { 0 }, skl_names,
};

static const struct pmu_table tab_clx = {
	"clx",
	{ INTEL_CYC_INS, "MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM",
	  "MEM_LOAD_L3_MISS_RETIRED:REMOTE_DRAM" },
	INTEL_CFG(0x1d3, 0x2d3), { 0 }, { 0 }, skl_names,
};

/*
 * Not local on ICX, SPR and GNR: the supplier bits of Intel's
 * OCR.DEMAND_DATA_RD.REMOTE_DRAM (28-29), .SNC_DRAM (27: the distant
 * clusters of this socket under Sub-NUMA Clustering) and .PMM (ICX, SPR) or
 * .CXL_MEM (GNR) (22-25), with REMOTE_DRAM's snoop bits: 0x73BC00001.
 * libpfm4 names none of the unions; it encodes REMOTE_DRAM and vnumad sets
 * the mask. Local is LOCAL_DRAM: the node's own controllers.
 */
#define NOT_LOCAL_OCR	0x73bc00001ULL

static const struct pmu_table tab_icx = {
	"icx",
	{ INTEL_CYC_INS, "OFFCORE_RESPONSE_1:DEMAND_DATA_RD_LOCAL_DRAM",
	  "OFFCORE_RESPONSE_0:DEMAND_DATA_RD_REMOTE_DRAM" },
	INTEL_CFG(0x1bb, 0x1b7), { 0, 0, 0x104000001, NOT_LOCAL_OCR },
	{ 0, 0, 0, 0x730000001 }, icl_names,
};

static const struct pmu_table tab_spr = {
	"spr",
	{ INTEL_CYC_INS, "OCR:DEMAND_DATA_RD_LOCAL_DRAM",
	  "OCR:DEMAND_DATA_RD_REMOTE_DRAM" },
	INTEL_CFG(0x12a, 0x12a), { 0, 0, 0x104000001, NOT_LOCAL_OCR },
	{ 0, 0, 0, 0x730000001 }, spr_names,
};

/* Emerald Rapids' file names neither PMM nor CXL: SNC_DRAM | REMOTE_DRAM */
static const struct pmu_table tab_emr = {
	"spr",
	{ INTEL_CYC_INS, "OCR:DEMAND_DATA_RD_LOCAL_DRAM",
	  "OCR:DEMAND_DATA_RD_REMOTE_DRAM" },
	INTEL_CFG(0x12a, 0x12a), { 0, 0, 0x104000001, 0x738000001 },
	{ 0, 0, 0, 0x730000001 }, spr_names,
};

static const struct pmu_table tab_gnr = {
	"spr",
	{ INTEL_CYC_INS, "OCR:DEMAND_DATA_RD_LOCAL_DRAM",
	  "OCR:DEMAND_DATA_RD_REMOTE_DRAM" },
	INTEL_CFG(0x12a, 0x12a), { 0, 0, 0x104000001, NOT_LOCAL_OCR },
	{ 0, 0, 0, 0x730000001 }, gnr_names,
};

/* event 0x43: demand fills only, as Intel's demand data reads */
static const struct pmu_table tab_zen2 = {
	"amd64_fam17h_zen2",
	{ AMD_CYC_INS, "DATA_CACHE_REFILLS_FROM_SYSTEM:LS_MABRESP_LCL_DRAM",
	  "DATA_CACHE_REFILLS_FROM_SYSTEM:LS_MABRESP_RMT_DRAM" },
	AMD_CFG(0x843, 0x4043), { 0 }, { 0 }, NULL,
};

static const struct pmu_table tab_zen3 = {
	"amd64_fam19h_zen3",
	{ AMD_CYC_INS, "DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_LCL",
	  "DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_RMT" },
	AMD_CFG(0x843, 0x4043), { 0 }, { 0 }, NULL,
};

/* extension memory (CXL) is a node of its own, never the vCPU's: far */
static const struct pmu_table tab_zen4 = {
	"amd64_fam19h_zen4",
	{ AMD_CYC_INS, "DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_NEAR",
	  "DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_FAR:ALT_MEM_NEAR_FAR" },
	AMD_CFG(0x843, 0xc043), { 0 }, { 0 }, NULL,
};

#define INTEL(name, lo, hi, slo, shi, tab) \
	{ name, CPU_VENDOR_INTEL, 6, lo, hi, slo, shi, &tab, NULL }
#define AMD(name, fam, lo, hi, tab) \
	{ name, CPU_VENDOR_AMD, fam, lo, hi, 0, 15, &tab, NULL }

/* Model ranges: Intel's perfmon mapfile.csv; AMD's: the kernel's amd.c. */
const struct pmu_model pmu_models[] = {
	INTEL("Intel Sandy Bridge-EP", 45, 45, 0, 15, tab_snb_ep),
	INTEL("Intel Ivy Bridge-EP", 62, 62, 0, 15, tab_ivb_ep),
	INTEL("Intel Haswell-EP", 63, 63, 0, 15, tab_hsw_ep),
	INTEL("Intel Broadwell-EP", 79, 79, 0, 15, tab_bdw_ep),
	/* model 85 is Skylake-SP up to stepping 4, Cascade/Cooper Lake after */
	INTEL("Intel Skylake-SP", 85, 85, 0, 4, tab_skx),
	INTEL("Intel Cascade Lake-SP", 85, 85, 5, 15, tab_clx),
	INTEL("Intel Ice Lake-SP", 106, 106, 0, 15, tab_icx),
	INTEL("Intel Ice Lake-D", 108, 108, 0, 15, tab_icx),
	INTEL("Intel Sapphire Rapids", 143, 143, 0, 15, tab_spr),
	INTEL("Intel Emerald Rapids", 207, 207, 0, 15, tab_emr),
	INTEL("Intel Granite Rapids", 173, 174, 0, 15, tab_gnr),
	/* family 17h: Zen 2 (the rest, 0x00-0x2f and 0x50-0x5f, is Zen 1) */
	AMD("AMD Zen 2", 0x17, 0x30, 0x4f, tab_zen2),
	AMD("AMD Zen 2", 0x17, 0x60, 0x7f, tab_zen2),
	AMD("AMD Zen 2", 0x17, 0x90, 0x91, tab_zen2),
	AMD("AMD Zen 2", 0x17, 0xa0, 0xaf, tab_zen2),
	/* family 19h: Zen 3 and Zen 4 interleave by model range */
	AMD("AMD Zen 3", 0x19, 0x00, 0x0f, tab_zen3),
	AMD("AMD Zen 3", 0x19, 0x20, 0x5f, tab_zen3),
	AMD("AMD Zen 4", 0x19, 0x10, 0x1f, tab_zen4),
	AMD("AMD Zen 4", 0x19, 0x60, 0xaf, tab_zen4),
	/* family 1Ah keeps Zen 4's event 0x43 and its umasks */
	AMD("AMD Zen 5", 0x1a, 0x00, 0x2f, tab_zen4),
	AMD("AMD Zen 5", 0x1a, 0x40, 0x4f, tab_zen4),
	AMD("AMD Zen 5", 0x1a, 0x60, 0x7f, tab_zen4),
};

const int pmu_nr_models = (int)ARRAY_SIZE(pmu_models);

/* Searched after pmu_models: the other models of a family vnumad knows. */
const struct pmu_model pmu_refused[] = {
	{ "AMD Zen 6", CPU_VENDOR_AMD, 0x1a, 0x00, 0xff, 0, 15, NULL,
	  "family 1Ah models outside Zen 5's ranges (0x00-0x2f, 0x40-0x4f, "
	  "0x60-0x7f) are Zen 6 or later, whose DRAM-source events vnumad has "
	  "not checked against AMD's documentation" },
	{ "AMD Zen 1", CPU_VENDOR_AMD, 0x17, 0x00, 0xff, 0, 15, NULL,
	  "Zen 1 (family 17h models 0x00-0x2f, 0x50-0x5f) has no data cache "
	  "fill event by source (event 0x43)" },
	{ "AMD family 19h", CPU_VENDOR_AMD, 0x19, 0x00, 0xff, 0, 15, NULL,
	  "a family 19h model that is neither Zen 3 nor Zen 4 in the kernel's "
	  "amd.c" },
};

const int pmu_nr_refused = (int)ARRAY_SIZE(pmu_refused);

void cpu_identify(struct cpu_id *id)
{
	memset(id, 0, sizeof(*id));
	id->vendor = CPU_VENDOR_OTHER;
	strcpy(id->vendor_str, "unknown");
#if defined(__x86_64__) || defined(__i386__)
	unsigned int a, b, c, d;

	if (!__get_cpuid(0, &a, &b, &c, &d))
		return;
	memcpy(id->vendor_str, &b, 4);
	memcpy(id->vendor_str + 4, &d, 4);
	memcpy(id->vendor_str + 8, &c, 4);
	id->vendor_str[12] = '\0';
	if (strcmp(id->vendor_str, "GenuineIntel") == 0)
		id->vendor = CPU_VENDOR_INTEL;
	else if (strcmp(id->vendor_str, "AuthenticAMD") == 0)
		id->vendor = CPU_VENDOR_AMD;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return;
	id->stepping = (int)(a & 0xf);
	id->family = (int)(a >> 8 & 0xf);
	id->model = (int)(a >> 4 & 0xf);
	if (id->family == 0xf)
		id->family += (int)(a >> 20 & 0xff);
	if (id->family == 6 || id->family >= 0xf)
		id->model += (int)(a >> 16 & 0xf) << 4;
	id->hypervisor = c >> 31 & 1;
#endif
}

/* The first entry of a table covering the CPU. */
static const struct pmu_model *find_in(const struct pmu_model *t, int n,
				       const struct cpu_id *id)
{
	for (int i = 0; i < n; i++) {
		const struct pmu_model *m = &t[i];

		if (m->vendor == id->vendor && m->family == id->family &&
		    id->model >= m->model_lo && id->model <= m->model_hi &&
		    id->stepping >= m->step_lo && id->stepping <= m->step_hi)
			return m;
	}
	return NULL;
}

const struct pmu_model *pmu_model_find(const struct cpu_id *id)
{
	return find_in(pmu_models, pmu_nr_models, id);
}

const struct pmu_model *pmu_model_refused(const struct cpu_id *id)
{
	return pmu_model_find(id) ? NULL : find_in(pmu_refused, pmu_nr_refused, id);
}

char *cpu_id_str(const struct cpu_id *id, char *buf, size_t len)
{
	snprintf(buf, len, "vendor %s family %#x model %#x stepping %d%s",
		 id->vendor_str, id->family, id->model, id->stepping,
		 id->hypervisor ? ", virtual machine" : "");
	return buf;
}

/*
 * libpfm4 reads its environment once, in the first pfm_initialize(), and
 * pfm_terminate() does not reset which PMUs it activated: set it up once.
 */
static int pfm_setup(char *err, size_t errlen)
{
	static int state;	/* 0 not yet, 1 ready, < 0 failed */

	if (state == 0) {
		setenv("LIBPFM_ENCODE_INACTIVE", "1", 0);
		int r = pfm_initialize();

		state = r == PFM_SUCCESS ? 1 : (r < 0 ? r : -1);
	}
	if (state < 0) {
		snprintf(err, errlen, "libpfm4 does not start: %s%s",
			 pfm_strerror(state),
			 perf_paranoid() == INT_MIN ? " (no perf events in this kernel)" : "");
		return -1;
	}
	return 0;
}

/* One encoding attempt; libpfm4's status. */
static int encode_one(const char *name, struct perf_event_attr *attr)
{
	pfm_perf_encode_arg_t arg;

	memset(attr, 0, sizeof(*attr));
	memset(&arg, 0, sizeof(arg));
	arg.attr = attr;
	arg.size = sizeof(arg);
	return pfm_get_os_event_encoding(name, PFM_PLM0 | PFM_PLM3,
					 PFM_OS_PERF_EVENT_EXT, &arg);
}

int pmu_encode(const char *name, const char *pmu_hint, struct pmu_event *ev,
	       char *err, size_t errlen)
{
	char q[PMU_NAME_MAX];
	int r = PFM_ERR_NOTFOUND;

	if (pfm_setup(err, errlen) < 0)
		return -1;
	q[0] = '\0';
	if (pmu_hint && !strstr(name, "::")) {
		snprintf(q, sizeof(q), "%s::%s", pmu_hint, name);
		r = encode_one(q, &ev->attr);
	}
	if (r != PFM_SUCCESS) {
		r = encode_one(name, &ev->attr);
		q[0] = '\0';
	}
	if (r != PFM_SUCCESS) {
		snprintf(err, errlen, "'%s': %s (libpfm4)", name, pfm_strerror(r));
		return -1;
	}
	snprintf(ev->name, sizeof(ev->name), "%s", q[0] ? q : name);
	ev->attr.size = sizeof(ev->attr);
	/* count guest mode: that is where a vCPU thread does the guest's work */
	ev->attr.exclude_guest = 0;
	ev->attr.exclude_host = 0;
	/* counting, never sampling */
	ev->attr.sample_period = 0;
	ev->attr.precise_ip = 0;
	return 0;
}

/* Splits "a, b,c ,d" into trimmed names; returns how many. */
static int split_names(const char *s, char names[][PMU_NAME_MAX], int max,
		       bool *too_long)
{
	int n = 0;

	*too_long = false;
	while (*s) {
		const char *e = strchr(s, ',');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		const char *b = s;

		while (l && (*b == ' ' || *b == '\t')) {
			b++;
			l--;
		}
		while (l && (b[l - 1] == ' ' || b[l - 1] == '\t'))
			l--;
		if (n < max) {
			if (l >= sizeof(names[0]))
				*too_long = true;
			snprintf(names[n], sizeof(names[0]), "%.*s", (int)l, b);
		}
		n++;
		if (!e)
			break;
		s = e + 1;
	}
	return n;
}

int pmu_resolve(const char *events, const struct cpu_id *id,
		struct pmu_event ev[PMU_NR_ROLES], const struct pmu_model **model,
		char *err, size_t errlen)
{
	const struct pmu_model *m = pmu_model_find(id);
	char e[256], cpu[128];

	*model = m;
	if (events) {
		char names[PMU_NR_ROLES][PMU_NAME_MAX];
		bool too_long;
		int n = split_names(events, names, PMU_NR_ROLES, &too_long);

		if (n != PMU_NR_ROLES) {
			snprintf(err, errlen, "[sampling] events: expected 4 libpfm4 "
				 "names (cycles, instructions, local DRAM, remote "
				 "DRAM), got %d", n);
			return -1;
		}
		for (int i = 0; i < PMU_NR_ROLES; i++) {
			if (!names[i][0] || too_long) {
				snprintf(err, errlen, "[sampling] events: the %s event "
					 "name is %s", pmu_role_names[i],
					 names[i][0] ? "too long" : "empty");
				return -1;
			}
			if (pmu_encode(names[i], m ? m->tab->pfm_pmu : NULL, &ev[i],
				       e, sizeof(e)) < 0) {
				snprintf(err, errlen, "[sampling] events: %s event %s",
					 pmu_role_names[i], e);
				return -1;
			}
		}
		return 0;
	}
	if (!m) {
		const struct pmu_model *r = pmu_model_refused(id);

		if (r)
			snprintf(err, errlen, "%s (%s) is not supported: %s; set "
				 "[sampling] events to four libpfm4 names", r->name,
				 cpu_id_str(id, cpu, sizeof(cpu)), r->why);
		else
			snprintf(err, errlen, "no DRAM locality events known for this "
				 "CPU (%s); set [sampling] events to four libpfm4 names",
				 cpu_id_str(id, cpu, sizeof(cpu)));
		return -1;
	}
	for (int i = 0; i < PMU_NR_ROLES; i++) {
		const struct pmu_table *t = m->tab;
		uint64_t want1 = t->pfm_config1[i] ? t->pfm_config1[i] : t->config1[i];
		char q[PMU_NAME_MAX];

		snprintf(q, sizeof(q), "%s::%s", t->pfm_pmu, t->event[i]);
		if (pmu_encode(q, NULL, &ev[i], e, sizeof(e)) < 0) {
			snprintf(err, errlen, "%s: %s event %s", m->name,
				 pmu_role_names[i], e);
			return -1;
		}
		if (ev[i].attr.config != t->config[i] || ev[i].attr.config1 != want1)
			log_warning("sampling: libpfm4 encodes %s as config %#llx "
				    "config1 %#llx, the table says %#llx %#llx",
				    q, (unsigned long long)ev[i].attr.config,
				    (unsigned long long)ev[i].attr.config1,
				    (unsigned long long)t->config[i],
				    (unsigned long long)want1);
		/* Intel's MSR value where libpfm4 cannot name it */
		if (t->pfm_config1[i]) {
			ev[i].attr.config1 = t->config1[i];
			snprintf(ev[i].name, sizeof(ev[i].name), "%.120s,config1=%#llx", q,
				 (unsigned long long)t->config1[i]);
		}
	}
	return 0;
}

int pmu_kernel_check(const struct pmu_model *m, char *why, size_t len)
{
	char name[64];
	ssize_t n;

	if (!m || !m->tab || !m->tab->pmu_names)
		return 0;
	n = sysfs_read("/bus/event_source/devices/cpu/caps/pmu_name", name,
		       sizeof(name));
	if (n == -ENOENT) {
		/* kernels before 4.14 publish no name: nothing to check against */
		return 0;
	}
	if (n < 0) {
		snprintf(why, len, "cannot read %s/bus/event_source/devices/cpu/caps/"
			 "pmu_name: %s", sampling_sysfs_root(), strerror((int)-n));
		return -1;
	}
	for (const char *const *p = m->tab->pmu_names; *p; p++)
		if (strcmp(name, *p) == 0)
			return 0;
	snprintf(why, len, "the kernel does not know the %s PMU: it calls it "
		 "'%s', not '%s' (an older kernel, or a virtual PMU), and would "
		 "ignore the offcore response MSR values: the DRAM counts would "
		 "mean nothing", m->name, name, m->tab->pmu_names[0]);
	return -1;
}
