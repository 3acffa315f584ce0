# tests/numavm.mk: the helpers of the multi-node VM test (tests/t_numavm.sh)
# and the fuzz targets. Included by the Makefile after the other fragments,
# so that LIB_SRCS is complete.
#
#   make check        also builds the VM helpers and the fuzz replayers
#   make fuzz         each fuzz target for FUZZ_TIME seconds (default 60)
#                     from tests/fuzz/corpus/NAME, with clang's libFuzzer,
#                     ASan and UBSan; new inputs go to build/fuzz/corpus/NAME,
#                     crashes to build/fuzz/artifacts/

# VM-side helpers: static (the initramfs has no libc for them) and without
# sanitizers (they run in the VM, and ASan's shadow would look like guest
# RAM to the mover).
NUMAVM_HELPERS := $(B)/tests/numavm/guestload $(B)/tests/numavm/vmexit

$(B)/tests/numavm/guestload: tests/numavm/guestload.c tests/numavm.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -static -o $@ $< -lpthread

$(B)/tests/numavm/vmexit: tests/numavm/vmexit.c tests/numavm.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -static -o $@ $<

CHECK_DEPS += $(NUMAVM_HELPERS)

# Fuzz targets: tests/fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput;
# control and http serve the daemon's sockets, so they link its layer too.
FUZZ_TARGETS := config scenario trace numa_maps journal control http
FUZZ_SRCS_OF = tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz.h

# Replayers: each target with a plain main() (tests/fuzz/standalone.c),
# built like everything else (so with SANITIZE's sanitizers), run over every
# corpus and crash input by tests/t_fuzz_regress.sh under make check.
FUZZ_REPLAY := $(FUZZ_TARGETS:%=$(B)/tests/fuzz/replay_%)
FUZZ_LINK_CFLAGS = $(filter-out -MMD -MP,$(TOP_CFLAGS)) -Itests/fuzz

$(B)/tests/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/standalone.c tests/fuzz/fuzz.h \
		tests/fuzz/fuzz_daemon.h $(DAEMON_LIB) $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_LINK_CFLAGS) $(ALL_LDFLAGS) -o $@ tests/fuzz/fuzz_$*.c \
		tests/fuzz/standalone.c $(DAEMON_LIB) $(LINK_LIBS) $(LIBS)

CHECK_DEPS += $(FUZZ_REPLAY)

# libFuzzer builds: the core compiled again by clang, in a tree of its own.
FUZZ_CC   ?= clang
FUZZ_TIME ?= 60
FUZZ_B    := build/fuzz
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = $(filter-out -fsanitize=% -fno-sanitize-recover=% -MMD -MP -Werror,$(ALL_CFLAGS)) \
	      -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_OBJS := $(filter-out $(DAEMON_SRCS:%.c=$(FUZZ_B)/%.o),$(LIB_SRCS:%.c=$(FUZZ_B)/%.o))
FUZZ_LIB  := $(FUZZ_B)/libvnumad.a
FUZZ_DAEMON_LIB := $(FUZZ_B)/libvnumad-daemon.a
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)

$(FUZZ_B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(call inc_for,$<) -MMD -MP -c -o $@ $<

$(FUZZ_B)/sim/sim_backend.o: $(SIM_DEMO_H)

$(FUZZ_LIB): $(FUZZ_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_DAEMON_LIB): $(DAEMON_SRCS:%.c=$(FUZZ_B)/%.o)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h tests/fuzz/fuzz_daemon.h \
		$(FUZZ_DAEMON_LIB) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(INC_TOP) -Itests/fuzz -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_DAEMON_LIB) $(FUZZ_LIB) $(LIBS)

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)

fuzz: deps
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz needs $(FUZZ_CC) with libFuzzer: apt-get install clang" >&2; exit 1; }
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_B=$(FUZZ_B) FUZZ_TIME=$(FUZZ_TIME) tests/fuzz/run.sh $(FUZZ_TARGETS)
