/* SPDX-License-Identifier: MIT */
/* Constants that vmlinux.h cannot carry (it has no #defines), defined once. */
#ifndef PIAS_BPF_DEFS_H
#define PIAS_BPF_DEFS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_ALEN	    6
#define ETH_HLEN	    14
#define ETH_P_IP	    0x0800
#define ETH_P_IPV6	    0x86DD

#define AF_INET		    2
#define AF_INET6	    10

#define IPPROTO_HOPOPTS	    0
#define IPPROTO_ICMP	    1
#define IPPROTO_TCP	    6
#define IPPROTO_UDP	    17
#define IPPROTO_ROUTING	    43
#define IPPROTO_FRAGMENT    44
#define IPPROTO_ESP	    50
#define IPPROTO_AH	    51
#define IPPROTO_ICMPV6	    58
#define IPPROTO_DSTOPTS	    60
#define IPPROTO_MH	    135

#define IP_MF		    0x2000

#define TCP_FLAG_FIN	    0x01 /* byte 13 of the TCP header */
#define TCP_FLAG_SYN	    0x02
#define TCP_FLAG_RST	    0x04
#define TCP_FLAG_ACK	    0x10
#define IP_DF		    0x4000
#define IP_OFFSET	    0x1fff

#define ICMP_DEST_UNREACH   3
#define ICMP_FRAG_NEEDED    4
#define ICMPV6_PKT_TOOBIG   2
#define ICMP_PORT_UNREACH   3 /* code of ICMP_DEST_UNREACH */
#define ICMPV6_DEST_UNREACH 1 /* type */
#define ICMPV6_PORT_UNREACH 4 /* its code */
#define IPV6_MIN_MTU	    1280

#define TCPOPT_EOL	    0
#define TCPOPT_NOP	    1
#define TCPOPT_MSS	    2
#define TCPOLEN_MSS	    4

#define PIAS_OUTER_TTL	    64

#ifndef likely
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC  1000000000ULL

#endif
