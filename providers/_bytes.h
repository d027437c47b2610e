/* Reading fixed-size fields out of packet and capture bytes (shared by the providers'
 * C accelerators). */
#ifndef PROVIDERS_BYTES_H
#define PROVIDERS_BYTES_H

#include <stdint.h>

/* A big-endian (network order) 16-bit field. */
static inline unsigned
be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* A big-endian (network order) 32-bit field. */
static inline uint32_t
be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A 32-bit field in a file's byte order (``big``: big-endian, else little-endian). */
static inline uint32_t
rd32(const unsigned char *p, int big)
{
    return big ? be32(p) : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

#endif
