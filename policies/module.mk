# policies/: the built-in policies, linked into the core.
CORE_SRCS += $(wildcard policies/*.c)
