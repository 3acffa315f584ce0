# tests/fakeguest: a stand-in VMM process (vCPU threads named as QEMU,
# cloud-hypervisor or Firecracker name them, touched guest RAM) for the tests of the proc backend and the
# memory mover. Built without sanitizers on purpose: ASan's shadow is a huge
# read-write mapping that the mover would take for guest RAM.
FAKEGUEST := $(B)/tests/fakeguest

$(FAKEGUEST): tests/fakeguest.c tests/fakeguest.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -o $@ $< -lpthread

# The same file under a QEMU executable's name (a hard link: the kernel
# shows a symbolic link's target in /proc/PID/exe), which the proc backend
# takes for QEMU; under its own name fakeguest is no VMM at all.
FAKEQEMU := $(B)/tests/qemu-system-fakeguest

$(FAKEQEMU): $(FAKEGUEST)
	ln -f $< $@

CHECK_DEPS += $(FAKEGUEST) $(FAKEQEMU)
# (here, not in tests/module.mk: that is read before these are set)
BENCH_DEPS += $(FAKEGUEST) $(FAKEQEMU)

# tests/spinguest.elf: a multiboot kernel that keeps every vCPU of a real
# QEMU guest busy (tests/t_libvirt_qemu.sh, tests/t_proc_qemu.sh); x86 only.
ifeq ($(shell uname -m),x86_64)
SPINGUEST := $(B)/tests/spinguest.elf

$(SPINGUEST): tests/spinguest.c tests/fakeguest.mk
	@mkdir -p $(dir $@)
	$(CC) -m32 -ffreestanding -nostdlib -fno-pic -no-pie -static -O2 -fno-toplevel-reorder \
		-Wall -Wextra -Wl,-Ttext=0x100000 -Wl,--build-id=none -o $@ $<

CHECK_DEPS += $(SPINGUEST)
endif
