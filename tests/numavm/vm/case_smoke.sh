#!/bin/sh
# Boots and reports: the shortest round trip, for tests/numavm/run-case.sh
# (tests/numavm/run-case.sh smoke 2node).
. /numavm/vmlib.sh
numactl -H
finish
