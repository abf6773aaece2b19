#include <rte_config.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "shim.h"

uint16_t podfwd_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **pkts,
                             uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, pkts, nb_pkts);
}

uint16_t podfwd_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **pkts,
                             uint16_t nb_pkts)
{
	return rte_eth_tx_burst(port_id, queue_id, pkts, nb_pkts);
}

struct rte_mbuf *podfwd_pktmbuf_alloc(struct rte_mempool *pool)
{
	return rte_pktmbuf_alloc(pool);
}

int podfwd_pktmbuf_alloc_bulk(struct rte_mempool *pool, struct rte_mbuf **mbufs,
                              unsigned int count)
{
	return rte_pktmbuf_alloc_bulk(pool, mbufs, count);
}

void podfwd_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

void podfwd_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count)
{
	rte_pktmbuf_free_bulk(mbufs, count);
}

unsigned int podfwd_lcore_id(void)
{
	return rte_lcore_id();
}

int podfwd_errno(void)
{
	return rte_errno;
}

uint64_t podfwd_rdtsc(void)
{
	return rte_rdtsc();
}

unsigned int podfwd_ring_enqueue_burst(struct rte_ring *ring, void *const *objs,
                                       unsigned int n, unsigned int *free_space)
{
	return rte_ring_enqueue_burst(ring, objs, n, free_space);
}

unsigned int podfwd_ring_dequeue_burst(struct rte_ring *ring, void **objs, unsigned int n,
                                       unsigned int *available)
{
	return rte_ring_dequeue_burst(ring, objs, n, available);
}
