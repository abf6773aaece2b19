/* Out-of-line copies of DPDK's static inline functions (and the rte_errno TLS macro),
 * which bindgen cannot bind. Each is called at most once per burst, never per packet. */
#ifndef PODFWD_SHIM_H
#define PODFWD_SHIM_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

uint16_t podfwd_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **pkts,
                             uint16_t nb_pkts);
uint16_t podfwd_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **pkts,
                             uint16_t nb_pkts);

struct rte_mbuf *podfwd_pktmbuf_alloc(struct rte_mempool *pool);
int podfwd_pktmbuf_alloc_bulk(struct rte_mempool *pool, struct rte_mbuf **mbufs,
                              unsigned int count);
void podfwd_pktmbuf_free(struct rte_mbuf *m);
void podfwd_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count);

unsigned int podfwd_lcore_id(void);
int podfwd_errno(void);
uint64_t podfwd_rdtsc(void);

unsigned int podfwd_ring_enqueue_burst(struct rte_ring *ring, void *const *objs,
                                       unsigned int n, unsigned int *free_space);
unsigned int podfwd_ring_dequeue_burst(struct rte_ring *ring, void **objs, unsigned int n,
                                       unsigned int *available);

#endif
