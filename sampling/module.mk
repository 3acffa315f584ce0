# sampling/: counter sources.
CORE_SRCS += $(wildcard sampling/*.c)
