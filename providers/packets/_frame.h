/* The packet decoder's common case in C, and a classic pcap record's header: the one C
 * twin of providers/packets/_decode.py's Decoder._fast and of _pcap.py's record walk,
 * shared by the decoder (_cdecode.c) and the MSN monitor's express lane (_cexpress.c).
 * Include after Python.h and _bytes.h. */
#ifndef PROVIDERS_PACKETS_FRAME_H
#define PROVIDERS_PACKETS_FRAME_H

#include <stdint.h>

#define M_IPV4 1
#define M_IPV6 2
#define M_TCP 4
#define M_UDP 8

/* -- the fast path: Python's Decoder._fast -- */

typedef struct {
    int version, proto, mask;
    const unsigned char *src; /* dst follows it */
    Py_ssize_t alen;
    unsigned sport, dport, flags;
    unsigned long seq, ack;
    long long off, plen, seglen;
} Fast;

/* TCP at `off`, its segment ending at `end`: 1 and `f` filled if consistent, else 0. */
static inline int fast_tcp(const unsigned char *d, long long n, long long off, long long end, Fast *f) {
    if (off + 20 > end || off + 20 > n) return 0;
    long long hl = (d[off + 12] >> 4) << 2;
    if (hl < 20 || off + hl > end) return 0;
    f->sport = be16(d + off);
    f->dport = be16(d + off + 2);
    f->seq = be32(d + off + 4);
    f->ack = be32(d + off + 8);
    f->flags = d[off + 13];
    f->seglen = end - off - hl;
    f->off = off + hl;
    f->mask |= M_TCP;
    return 1;
}

/* UDP at `off`, its datagram within `end`: 1 and `f` filled if consistent, else 0. */
static inline int fast_udp(const unsigned char *d, long long n, long long off, long long end, Fast *f) {
    if (off + 8 > end || off + 8 > n) return 0;
    unsigned ulen = be16(d + off + 4);
    if (ulen < 8 || ulen > end - off) return 0;
    f->sport = be16(d + off);
    f->dport = be16(d + off + 2);
    f->seq = f->ack = 0;
    f->flags = 0;
    f->seglen = ulen - 8;
    f->off = off + 8;
    f->mask |= M_UDP;
    return 1;
}

/* An Ethernet frame of n >= 54 bytes (wire >= n): 1 and `f` filled if _fast takes it. */
static inline int fast_parse(const unsigned char *d, long long n, long long wire, Fast *f) {
    unsigned etype = be16(d + 12);
    long long end;
    if (etype == 0x0800) {
        unsigned tot = be16(d + 16);
        if (d[14] != 0x45 || (be16(d + 20) & 0x3FFF) || tot <= 20 || tot > wire - 14) return 0;
        end = 14 + (long long)tot;
        f->version = 4, f->mask = M_IPV4, f->proto = d[23], f->src = d + 26, f->alen = 4;
    } else if (etype == 0x86DD) {
        unsigned plen = be16(d + 18);
        if (d[14] >> 4 != 6 || plen == 0 || plen > wire - 54) return 0;
        end = 54 + (long long)plen;
        f->version = 6, f->mask = M_IPV6, f->proto = d[20], f->src = d + 22, f->alen = 16;
    } else {
        return 0;
    }
    long long off = f->version == 4 ? 34 : 54;
    if (f->proto == 6 ? !fast_tcp(d, n, off, end, f)
                      : f->proto != 17 || !fast_udp(d, n, off, end, f))
        return 0;
    long long cap = n - f->off;  /* negative when the capture cuts the TCP options */
    f->plen = f->seglen <= cap ? f->seglen : (cap > 0 ? cap : 0);
    return 1;
}

/* -- classic pcap records -- */

/* A record header (16 bytes, whole): times, captured and wire lengths. */
typedef struct {
    unsigned long long ts;  /* ns; < 2^64 for mult <= 10^9 */
    uint32_t caplen, wire;
} PcapRecord;

/* The record header at `p` of a file with byte order `big` and `mult` ns per fraction
 * unit: 1 and `r` filled when its data is whole within `avail` bytes after the header
 * and at most `max_frame` long; 0 when the data is cut by the end; -1 when too long. */
static inline int pcap_record(const unsigned char *p, Py_ssize_t avail, int big,
                              unsigned long long mult, unsigned long long max_frame,
                              PcapRecord *r) {
    r->ts = (unsigned long long)rd32(p, big) * 1000000000ULL
            + (unsigned long long)rd32(p + 4, big) * mult;
    r->caplen = rd32(p + 8, big), r->wire = rd32(p + 12, big);
    if (r->caplen > max_frame) return -1;
    return (Py_ssize_t)r->caplen <= avail;
}

#endif
