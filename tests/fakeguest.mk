# tests/fakeguest: a stand-in QEMU/KVM process (vCPU threads named
# "CPU n/KVM", touched guest RAM) for the tests of the proc backend and the
# memory mover. Built without sanitizers on purpose: ASan's shadow is a huge
# read-write mapping that the mover would take for guest RAM.
FAKEGUEST := $(B)/tests/fakeguest

$(FAKEGUEST): tests/fakeguest.c tests/fakeguest.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -o $@ $< -lpthread

CHECK_DEPS += $(FAKEGUEST)
