# rebalancer/base/: the layer under everything: logging, value parsers and
# small helpers, the INI reader. It includes nothing of vnumad's above it.
BASE_SRCS := \
	rebalancer/base/ini.c \
	rebalancer/base/log.c \
	rebalancer/base/util.c
