/*
 * TVC (token-based video codec) .tvc file framing, shared by the muxer and the demuxer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The byte layout is docs/bitstream.md of tvc-ffmpeg: an 8-byte signature, then records
 * of "TV", a LEB128 size and one packet (type u8, LEB128 header_size, header fields,
 * body, CRC-32). Only the record framing and the few header fields a container needs
 * (picture size, rates, colour, GoP index/frame count/first pts) are read here; the
 * codec checks everything else.
 */

#ifndef AVFORMAT_TVCFORMAT_H
#define AVFORMAT_TVCFORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "libavutil/crc.h"
#include "libavutil/intreadwrite.h"

#define TVC_SIGNATURE "\x89TVC\r\n\x1a\n"
#define TVC_SIGNATURE_SIZE 8
#define TVC_SYNC0 'T'
#define TVC_SYNC1 'V'
#define TVC_MAX_RECORD (64 << 20)

enum TvcPacketType {
    TVC_PKT_SEQUENCE_HEADER = 1,
    TVC_PKT_GOP = 2,
    TVC_PKT_END = 3,
};

/* Unsigned LEB128 from buf[*pos..size); -1 when it runs past the end or over 10 bytes. */
static inline int ff_tvc_read_uv(const uint8_t *buf, size_t size, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (*pos >= size)
            return -1;
        v |= (uint64_t)(buf[*pos] & 0x7f) << (7 * i);
        if (!(buf[(*pos)++] & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Writes v as LEB128 into buf (at least 10 bytes); returns the length. */
static inline int ff_tvc_write_uv(uint8_t *buf, uint64_t v)
{
    int n = 0;
    do {
        buf[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* Whether the packet's trailing CRC-32 matches its bytes. */
static inline int ff_tvc_crc_ok(const uint8_t *pkt, size_t size)
{
    uint32_t crc;
    if (size < 5)
        return 0;
    crc = av_crc(av_crc_get_table(AV_CRC_32_IEEE_LE), UINT32_MAX, pkt, size - 4) ^ UINT32_MAX;
    return crc == AV_RL32(pkt + size - 4);
}

static inline uint32_t ff_tvc_crc(const uint8_t *data, size_t size)
{
    return av_crc(av_crc_get_table(AV_CRC_32_IEEE_LE), UINT32_MAX, data, size) ^ UINT32_MAX;
}

/* Header fields of a GoP packet that a container uses. */
typedef struct TvcGopInfo {
    uint64_t gop_index;
    uint64_t frame_count;
    int64_t first_pts;
} TvcGopInfo;

/* Parses the start of a GoP packet; -1 when it is not one or is cut short. */
static inline int ff_tvc_parse_gop(const uint8_t *pkt, size_t size, TvcGopInfo *g)
{
    size_t pos = 1;
    uint64_t header_size, zz;
    if (size < 1 || pkt[0] != TVC_PKT_GOP)
        return -1;
    if (ff_tvc_read_uv(pkt, size, &pos, &header_size) < 0 || header_size > size - pos)
        return -1;
    size = pos + header_size;
    if (ff_tvc_read_uv(pkt, size, &pos, &g->gop_index) < 0 ||
        ff_tvc_read_uv(pkt, size, &pos, &g->frame_count) < 0 ||
        ff_tvc_read_uv(pkt, size, &pos, &zz) < 0)
        return -1;
    g->first_pts = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
    return 0;
}

#endif /* AVFORMAT_TVCFORMAT_H */
