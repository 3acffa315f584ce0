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
 * architectural events; AMD's are programmable. The DRAM events:
 * SNB-EP..BDX and ICX: offcore response with the demand-data-read request and
 * the local / remote DRAM supplier bits (MSR value in config1); SKX/CLX:
 * retired loads that missed L3, by source; SPR and later: OCR (the kernel
 * moves the second of two OCR events of a group to the other offcore MSR,
 * event 0x2b); AMD: data cache fills by source, near (local) or far (remote)
 * DRAM or IO.
 */
#define INTEL_CYC_INS	"UNHALTED_CORE_CYCLES", "INSTRUCTION_RETIRED"
#define AMD_CYC_INS	"CYCLES_NOT_IN_HALT", "RETIRED_INSTRUCTIONS"

const struct pmu_model pmu_models[] = {
	{ "Intel Sandy Bridge-EP", CPU_VENDOR_INTEL, 6, 45, 45, 0, 15, "snb_ep",
	  { INTEL_CYC_INS,
	    "OFFCORE_RESPONSE_1:DMND_DATA_RD:LLC_MISS_LOCAL_DRAM:SNP_MISS:SNP_NO_FWD",
	    "OFFCORE_RESPONSE_0:DMND_DATA_RD:LLC_MISS_REMOTE_DRAM:SNP_MISS:SNP_NO_FWD" },
	  { 0x3c, 0xc0, 0x1bb, 0x1b7 }, { 0, 0, 0x600400001, 0x67f800001 } },
	{ "Intel Ivy Bridge-EP", CPU_VENDOR_INTEL, 6, 62, 62, 0, 15, "ivb_ep",
	  { INTEL_CYC_INS,
	    "OFFCORE_RESPONSE_1:DMND_DATA_RD:LLC_MISS_LOCAL:SNP_MISS:SNP_NO_FWD",
	    "OFFCORE_RESPONSE_0:DMND_DATA_RD:LLC_MISS_REMOTE_DRAM:SNP_MISS:SNP_NO_FWD" },
	  { 0x3c, 0xc0, 0x1bb, 0x1b7 }, { 0, 0, 0x600400001, 0x67f800001 } },
	/* Haswell-EP moved the remote supplier bits to 27-29 (hops 0, 1, 2+) */
	{ "Intel Haswell-EP", CPU_VENDOR_INTEL, 6, 63, 63, 0, 15, "hsw_ep",
	  { INTEL_CYC_INS,
	    "OFFCORE_RESPONSE_1:DMND_DATA_RD:L3_MISS_LOCAL:SNP_MISS:SNP_NO_FWD",
	    "OFFCORE_RESPONSE_0:DMND_DATA_RD:L3_MISS_REMOTE_DRAM:SNP_MISS:SNP_NO_FWD" },
	  { 0x3c, 0xc0, 0x1bb, 0x1b7 }, { 0, 0, 0x600400001, 0x638000001 } },
	{ "Intel Broadwell-EP", CPU_VENDOR_INTEL, 6, 79, 79, 0, 15, "bdw_ep",
	  { INTEL_CYC_INS,
	    "OFFCORE_RESPONSE_1:DMND_DATA_RD:L3_MISS_LOCAL:SNP_MISS:SNP_NO_FWD",
	    "OFFCORE_RESPONSE_0:DMND_DATA_RD:L3_MISS_REMOTE_DRAM:SNP_MISS:SNP_NO_FWD" },
	  { 0x3c, 0xc0, 0x1bb, 0x1b7 }, { 0, 0, 0x604000001, 0x638000001 } },
	/* model 85 is Skylake-SP up to stepping 4, Cascade/Cooper Lake after */
	{ "Intel Skylake-SP", CPU_VENDOR_INTEL, 6, 85, 85, 0, 4, "skx",
	  { INTEL_CYC_INS, "MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM",
	    "MEM_LOAD_L3_MISS_RETIRED:REMOTE_DRAM" },
	  { 0x3c, 0xc0, 0x1d3, 0x2d3 }, { 0, 0, 0, 0 } },
	{ "Intel Cascade Lake-SP", CPU_VENDOR_INTEL, 6, 85, 85, 5, 15, "clx",
	  { INTEL_CYC_INS, "MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM",
	    "MEM_LOAD_L3_MISS_RETIRED:REMOTE_DRAM" },
	  { 0x3c, 0xc0, 0x1d3, 0x2d3 }, { 0, 0, 0, 0 } },
	{ "Intel Ice Lake-SP", CPU_VENDOR_INTEL, 6, 106, 106, 0, 15, "icx",
	  { INTEL_CYC_INS, "OFFCORE_RESPONSE_1:DEMAND_DATA_RD_LOCAL_DRAM",
	    "OFFCORE_RESPONSE_0:DEMAND_DATA_RD_REMOTE_DRAM" },
	  { 0x3c, 0xc0, 0x1bb, 0x1b7 }, { 0, 0, 0x104000001, 0x730000001 } },
	{ "Intel Sapphire Rapids", CPU_VENDOR_INTEL, 6, 143, 143, 0, 15, "spr",
	  { INTEL_CYC_INS, "OCR:DEMAND_DATA_RD_LOCAL_DRAM",
	    "OCR:DEMAND_DATA_RD_REMOTE_DRAM" },
	  { 0x3c, 0xc0, 0x12a, 0x12a }, { 0, 0, 0x104000001, 0x730000001 } },
	{ "Intel Emerald Rapids", CPU_VENDOR_INTEL, 6, 207, 207, 0, 15, "spr",
	  { INTEL_CYC_INS, "OCR:DEMAND_DATA_RD_LOCAL_DRAM",
	    "OCR:DEMAND_DATA_RD_REMOTE_DRAM" },
	  { 0x3c, 0xc0, 0x12a, 0x12a }, { 0, 0, 0x104000001, 0x730000001 } },
	{ "Intel Granite Rapids", CPU_VENDOR_INTEL, 6, 173, 174, 0, 15, "spr",
	  { INTEL_CYC_INS, "OCR:DEMAND_DATA_RD_LOCAL_DRAM",
	    "OCR:DEMAND_DATA_RD_REMOTE_DRAM" },
	  { 0x3c, 0xc0, 0x12a, 0x12a }, { 0, 0, 0x104000001, 0x730000001 } },
	/* family 17h: models 0x30 and up are Zen 2 (below: Zen 1, not covered) */
	{ "AMD Zen 2", CPU_VENDOR_AMD, 0x17, 0x30, 0xff, 0, 15, "amd64_fam17h_zen2",
	  { AMD_CYC_INS, "DATA_CACHE_REFILLS_FROM_SYSTEM:LS_MABRESP_LCL_DRAM",
	    "DATA_CACHE_REFILLS_FROM_SYSTEM:LS_MABRESP_RMT_DRAM" },
	  { 0x76, 0xc0, 0x843, 0x4043 }, { 0, 0, 0, 0 } },
	/* family 19h: Zen 3 and Zen 4 interleave by model range */
	{ "AMD Zen 3", CPU_VENDOR_AMD, 0x19, 0x00, 0x0f, 0, 15, "amd64_fam19h_zen3",
	  { AMD_CYC_INS, "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_LCL",
	    "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_RMT" },
	  { 0x76, 0xc0, 0x844, 0x4044 }, { 0, 0, 0, 0 } },
	{ "AMD Zen 3", CPU_VENDOR_AMD, 0x19, 0x20, 0x2f, 0, 15, "amd64_fam19h_zen3",
	  { AMD_CYC_INS, "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_LCL",
	    "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_RMT" },
	  { 0x76, 0xc0, 0x844, 0x4044 }, { 0, 0, 0, 0 } },
	{ "AMD Zen 3", CPU_VENDOR_AMD, 0x19, 0x40, 0x5f, 0, 15, "amd64_fam19h_zen3",
	  { AMD_CYC_INS, "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_LCL",
	    "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_RMT" },
	  { 0x76, 0xc0, 0x844, 0x4044 }, { 0, 0, 0, 0 } },
	{ "AMD Zen 4", CPU_VENDOR_AMD, 0x19, 0x10, 0x1f, 0, 15, "amd64_fam19h_zen4",
	  { AMD_CYC_INS, "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_NEAR",
	    "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_FAR" },
	  { 0x76, 0xc0, 0x844, 0x4044 }, { 0, 0, 0, 0 } },
	{ "AMD Zen 4", CPU_VENDOR_AMD, 0x19, 0x60, 0x7f, 0, 15, "amd64_fam19h_zen4",
	  { AMD_CYC_INS, "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_NEAR",
	    "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_FAR" },
	  { 0x76, 0xc0, 0x844, 0x4044 }, { 0, 0, 0, 0 } },
	{ "AMD Zen 4", CPU_VENDOR_AMD, 0x19, 0xa0, 0xaf, 0, 15, "amd64_fam19h_zen4",
	  { AMD_CYC_INS, "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_NEAR",
	    "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_FAR" },
	  { 0x76, 0xc0, 0x844, 0x4044 }, { 0, 0, 0, 0 } },
	/* family 1Ah keeps Zen 4's event 0x44 and its near/far DRAM umasks */
	{ "AMD Zen 5", CPU_VENDOR_AMD, 0x1a, 0x00, 0xff, 0, 15, "amd64_fam19h_zen4",
	  { AMD_CYC_INS, "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_NEAR",
	    "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_FAR" },
	  { 0x76, 0xc0, 0x844, 0x4044 }, { 0, 0, 0, 0 } },
};

const int pmu_nr_models = (int)ARRAY_SIZE(pmu_models);

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

const struct pmu_model *pmu_model_find(const struct cpu_id *id)
{
	for (int i = 0; i < pmu_nr_models; i++) {
		const struct pmu_model *m = &pmu_models[i];

		if (m->vendor == id->vendor && m->family == id->family &&
		    id->model >= m->model_lo && id->model <= m->model_hi &&
		    id->stepping >= m->step_lo && id->stepping <= m->step_hi)
			return m;
	}
	return NULL;
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
			if (pmu_encode(names[i], m ? m->pfm_pmu : NULL, &ev[i],
				       e, sizeof(e)) < 0) {
				snprintf(err, errlen, "[sampling] events: %s event %s",
					 pmu_role_names[i], e);
				return -1;
			}
		}
		return 0;
	}
	if (!m) {
		snprintf(err, errlen, "no DRAM locality events known for this CPU "
			 "(%s); set [sampling] events to four libpfm4 names",
			 cpu_id_str(id, cpu, sizeof(cpu)));
		return -1;
	}
	for (int i = 0; i < PMU_NR_ROLES; i++) {
		char q[PMU_NAME_MAX];

		snprintf(q, sizeof(q), "%s::%s", m->pfm_pmu, m->event[i]);
		if (pmu_encode(q, NULL, &ev[i], e, sizeof(e)) < 0) {
			snprintf(err, errlen, "%s: %s event %s", m->name,
				 pmu_role_names[i], e);
			return -1;
		}
		if (ev[i].attr.config != m->config[i] ||
		    ev[i].attr.config1 != m->config1[i])
			log_warning("sampling: libpfm4 encodes %s as config %#llx "
				    "config1 %#llx, the table says %#llx %#llx",
				    q, (unsigned long long)ev[i].attr.config,
				    (unsigned long long)ev[i].attr.config1,
				    (unsigned long long)m->config[i],
				    (unsigned long long)m->config1[i]);
	}
	return 0;
}
