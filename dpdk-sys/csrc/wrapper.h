/* The DPDK API surface podfwd binds: EAL, lcores and launch, cycles, mempool, mbuf,
 * ring, ethdev, telemetry and the malloc heap's statistics, plus the shim that makes
 * static inlines callable. */
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ethdev.h>
#include <rte_telemetry.h>
#include <rte_version.h>
#include <rte_malloc.h>

#include "shim.h"
