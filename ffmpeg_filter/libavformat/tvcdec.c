/*
 * TVC (token-based video codec) .tvc file demuxer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Records become packets: the sequence header becomes the stream's extradata (and gives
 * size, rates and colour fields to the stream), each GoP packet one keyframe AVPacket
 * whose pts is the GoP's first pts, the end-of-stream packet ends the stream. A record
 * whose CRC fails is still passed on, flagged corrupt and without a time stamp, so the
 * decoder reports it; since its size field may be the damaged part, reading then resumes
 * at the next "TV" sync that starts a valid record (size within limits, CRC good), as
 * docs/bitstream.md says, so a damaged record loses that GoP only. Builds against
 * FFmpeg 5.1 and 7.1.
 */

#include "libavutil/intreadwrite.h"
#include "libavutil/mem.h"
#include "libavutil/pixfmt.h"

#include "avformat.h"
#include "avio_internal.h"
#include "internal.h"
#include "demux.h"
#include "tvcformat.h"

typedef struct TvcDemuxContext {
    AVRational frame_rate;
    int ended;
    /* >= 0 while inside a damaged stretch that began at this byte: the next read scans
     * for a record that passes every check (docs/bitstream.md, "Decoder behaviour on bad
     * input"), the same resync as the library's RecordScanner, so both lose the same GoPs. */
    int64_t damage_start;
    /* CRC bytes spent on resync candidates that failed; kept under 1 MiB plus 8 bytes per
     * byte of input, so a stream full of fake syncs costs time linear in its size. */
    int64_t resync_spent;
} TvcDemuxContext;

static int tvc_probe(const AVProbeData *p)
{
    if (p->buf_size >= TVC_SIGNATURE_SIZE + 3 &&
        !memcmp(p->buf, TVC_SIGNATURE, TVC_SIGNATURE_SIZE) &&
        p->buf[TVC_SIGNATURE_SIZE] == TVC_SYNC0 && p->buf[TVC_SIGNATURE_SIZE + 1] == TVC_SYNC1)
        return AVPROBE_SCORE_MAX;
    return 0;
}

/* Lets the reader, on a non-seekable input too, come back to the record at sync (of
 * length bytes) after reading it; leaves it at the packet (past sync and size). */
static int keep_record_seekable(AVIOContext *pb, int64_t sync, uint64_t length)
{
    int64_t at = avio_tell(pb), ret;
    if ((ret = avio_seek(pb, sync, SEEK_SET)) < 0 || (ret = ffio_ensure_seekback(pb, length)) < 0 ||
        (ret = avio_skip(pb, at - sync)) < 0)
        return (int)ret;
    return 0;
}

/* Reads the record size that follows a "TV" sync; <0 on EOF or a size outside 1..64 MiB.
 * On success the reader stands at the packet, and even on a non-seekable input it can
 * seek back to the byte after the sync's 'T' once the whole packet is read: a record
 * that fails its CRC is rescanned from there, because its size field may be what was
 * damaged (keep = 0 leaves that to the caller). The caller keeps the two sync bytes
 * seekable (ffio_ensure_seekback(pb, 2)). */
static int read_record_size(AVFormatContext *s, uint64_t *size, int report, int keep)
{
    AVIOContext *pb = s->pb;
    int64_t sync = avio_tell(pb) - 2;
    uint64_t v = 0;
    int n, ret;

    if ((ret = avio_seek(pb, sync, SEEK_SET)) < 0 || (ret = ffio_ensure_seekback(pb, 12)) < 0)
        return ret;
    avio_skip(pb, 2);
    for (n = 1; n <= 10; n++) {
        int b = avio_r8(pb);
        if (avio_feof(pb))
            return AVERROR_EOF;
        v |= (uint64_t)(b & 0x7f) << (7 * (n - 1));
        if (!(b & 0x80))
            break;
    }
    if (n > 10 || v < 1 || v > TVC_MAX_RECORD) {
        if (report)
            av_log(s, AV_LOG_ERROR, "record size at byte %"PRId64" out of range 1..%d\n", sync + 2, TVC_MAX_RECORD);
        return AVERROR_INVALIDDATA;
    }
    *size = v;
    return keep ? keep_record_seekable(pb, sync, 2 + n + v) : 0;
}

/* Whether the record whose "TV" sync ends at the reader's position has a size within
 * limits, lies wholly inside the file and carries a valid CRC. Streams the CRC through a
 * small buffer, so a candidate costs no allocation; leaves the reader where it found it.
 * 1: valid, 0: not, <0: an I/O error. */
static int record_is_valid(AVFormatContext *s)
{
    TvcDemuxContext *c = s->priv_data;
    AVIOContext *pb = s->pb;
    const AVCRC *table = av_crc_get_table(AV_CRC_32_IEEE_LE);
    int64_t here = avio_tell(pb), file_size = avio_size(pb);
    uint8_t buf[4096];
    uint32_t crc = UINT32_MAX;
    uint64_t size, left = 0;
    int ret, valid = 0;

    /* Only a candidate worth reading gets its whole record kept seekable: on a pipe
     * that moves the buffered bytes, work the budget must bound. */
    ret = read_record_size(s, &size, 0, 0);
    if (ret < 0 && ret != AVERROR_EOF && ret != AVERROR_INVALIDDATA)
        return ret;
    /* A record known to run past the end is refused unread; the CRC work of the rest is
     * paid from the budget, which grows as the reader moves on. */
    if (ret == 0 && size >= 5 && (file_size <= 0 || avio_tell(pb) + (int64_t)size <= file_size) &&
        c->resync_spent <= (1 << 20) + 8 * here) {
        if ((ret = keep_record_seekable(pb, here - 2, avio_tell(pb) - here + 2 + size)) < 0)
            return ret;
        for (left = size - 4; left > 0; left -= ret) {
            ret = avio_read(pb, buf, (int)FFMIN(left, sizeof(buf)));
            if (ret <= 0)
                break;
            crc = av_crc(table, crc, buf, ret);
        }
        if (!left && avio_read(pb, buf, 4) == 4)
            valid = (crc ^ UINT32_MAX) == AV_RL32(buf);
        if (!valid)
            c->resync_spent += size - 4 - left;
    }
    c->resync_spent += !valid * 16;
    if ((ret = avio_seek(pb, here, SEEK_SET)) < 0)
        return ret;
    return valid;
}

/* Inside a damaged stretch: moves to just after the "TV" of the next valid record and
 * reports the bytes skipped, once; AVERROR_EOF when the file ends first. */
static int resync(AVFormatContext *s)
{
    TvcDemuxContext *c = s->priv_data;
    AVIOContext *pb = s->pb;
    int prev = -1;

    for (;;) {
        int b, ret;
        /* A 'T' read here must stay seekable for read_record_size. */
        if ((ret = ffio_ensure_seekback(pb, 2)) < 0)
            return ret;
        b = avio_r8(pb);
        if (avio_feof(pb)) {
            av_log(s, AV_LOG_WARNING, "skipped %"PRId64" damaged bytes from byte %"PRId64
                   " to the end of the file: no valid record after them\n",
                   avio_tell(pb) - c->damage_start, c->damage_start);
            c->damage_start = -1;
            return AVERROR_EOF;
        }
        if (prev == TVC_SYNC0 && b == TVC_SYNC1) {
            if ((ret = record_is_valid(s)) < 0)
                return ret;
            if (ret) {
                int64_t at = avio_tell(pb) - 2;
                av_log(s, AV_LOG_WARNING, "skipped %"PRId64" damaged bytes from byte %"PRId64
                       "; resumed at the valid record at byte %"PRId64"\n",
                       at - c->damage_start, c->damage_start, at);
                c->damage_start = -1;
                return 0;
            }
            b = -1; /* the 'V' cannot start a sync */
        }
        prev = b;
    }
}

static uint32_t rl32(const uint8_t *p) { return AV_RL32(p); }

static int tvc_read_header(AVFormatContext *s)
{
    TvcDemuxContext *c = s->priv_data;
    AVIOContext *pb = s->pb;
    uint8_t sig[TVC_SIGNATURE_SIZE];
    uint64_t size, header_size;
    size_t pos = 1;
    const uint8_t *h;
    AVStream *st;
    AVCodecParameters *par;
    int ret;

    c->damage_start = -1;
    if (avio_read(pb, sig, TVC_SIGNATURE_SIZE) != TVC_SIGNATURE_SIZE ||
        memcmp(sig, TVC_SIGNATURE, TVC_SIGNATURE_SIZE)) {
        av_log(s, AV_LOG_ERROR, "not a .tvc file (no TVC signature)\n");
        return AVERROR_INVALIDDATA;
    }
    if (avio_r8(pb) != TVC_SYNC0 || avio_r8(pb) != TVC_SYNC1 ||
        read_record_size(s, &size, 1, 1) < 0) {
        av_log(s, AV_LOG_ERROR, "the .tvc file does not start with a sequence-header record\n");
        return AVERROR_INVALIDDATA;
    }
    if (!(st = avformat_new_stream(s, NULL)))
        return AVERROR(ENOMEM);
    par = st->codecpar;
    if ((ret = ff_get_extradata(s, par, pb, (int)size)) < 0)
        return ret;
    h = par->extradata;
    /* 104 bytes of fields in format 2.x (docs/bitstream.md), then the CRC. */
    if (size < 2 || h[0] != TVC_PKT_SEQUENCE_HEADER ||
        ff_tvc_read_uv(h, size, &pos, &header_size) < 0 || header_size < 104 ||
        pos + header_size + 4 != size || !ff_tvc_crc_ok(h, size)) {
        av_log(s, AV_LOG_ERROR, "the .tvc sequence header is damaged or not a sequence header\n");
        return AVERROR_INVALIDDATA;
    }
    if (h[pos] != 2) {
        av_log(s, AV_LOG_ERROR, "TVC format %d.%d is not supported (2.x is)\n", h[pos], h[pos + 1]);
        return AVERROR_PATCHWELCOME;
    }
    h += pos + 2 + 32 + 32;
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_TVC;
    par->format = AV_PIX_FMT_YUV420P;
    par->width = AV_RL16(h);
    par->height = AV_RL16(h + 2);
    c->frame_rate = av_make_q(rl32(h + 4), rl32(h + 8));
    if (c->frame_rate.num > 0 && c->frame_rate.den > 0)
        st->avg_frame_rate = st->r_frame_rate = c->frame_rate;
    if (!rl32(h + 12) || !rl32(h + 16)) {
        av_log(s, AV_LOG_ERROR, "the .tvc sequence header has a zero time base\n");
        return AVERROR_INVALIDDATA;
    }
    avpriv_set_pts_info(st, 64, rl32(h + 12), rl32(h + 16));
    if (rl32(h + 20) && rl32(h + 24))
        st->sample_aspect_ratio = par->sample_aspect_ratio = av_make_q(rl32(h + 20), rl32(h + 24));
    par->color_primaries = h[28];
    par->color_trc = h[29];
    par->color_space = h[30];
    par->color_range = h[31];
    return 0;
}

/* Marks the record at pos as the start of a damaged stretch and puts the reader on its
 * second byte, where the scan for the next valid record begins. */
static int start_damage(AVFormatContext *s, int64_t pos)
{
    TvcDemuxContext *c = s->priv_data;
    int64_t ret = avio_seek(s->pb, pos + 1, SEEK_SET);
    c->damage_start = pos;
    return ret < 0 ? (int)ret : 0;
}

static int tvc_read_packet(AVFormatContext *s, AVPacket *pkt)
{
    TvcDemuxContext *c = s->priv_data;
    AVIOContext *pb = s->pb;
    AVStream *st = s->streams[0];
    uint64_t size;
    int64_t pos;
    int ret;

    for (;;) {
        TvcGopInfo g;
        if (c->ended)
            return AVERROR_EOF;
        if (c->damage_start >= 0) {
            if ((ret = resync(s)) < 0)
                return ret;
            pos = avio_tell(pb) - 2;
        } else {
            pos = avio_tell(pb);
            if ((ret = ffio_ensure_seekback(pb, 2)) < 0)
                return ret;
            ret = avio_r8(pb);
            if (avio_feof(pb))
                return AVERROR_EOF;
            if (ret != TVC_SYNC0 || avio_r8(pb) != TVC_SYNC1) {
                av_log(s, AV_LOG_ERROR, "no record sync at byte %"PRId64"\n", pos);
                if ((ret = start_damage(s, pos)) < 0)
                    return ret;
                continue;
            }
        }
        if ((ret = read_record_size(s, &size, 1, 1)) < 0) {
            if (ret != AVERROR_INVALIDDATA && ret != AVERROR_EOF)
                return ret;
            if (ret == AVERROR_EOF)
                av_log(s, AV_LOG_ERROR, "the .tvc file ends inside the record at byte %"PRId64"\n", pos);
            if ((ret = start_damage(s, pos)) < 0)
                return ret;
            continue;
        }
        ret = av_get_packet(pb, pkt, (int)size);
        if (ret < 0 && ret != AVERROR_EOF)
            return ret;
        pkt->pos = pos;
        if (ret < 0 || (uint64_t)ret < size || !ff_tvc_crc_ok(pkt->data, pkt->size)) {
            /* The size field may be the damaged part, so the record's end is no guide to
             * where the next one starts: rescan from its second byte. The bytes read are
             * still handed on, flagged corrupt, so the decoder counts the loss. */
            if (ret < 0 || (uint64_t)ret < size)
                av_log(s, AV_LOG_ERROR, "the record at byte %"PRId64" runs past the end of the file "
                       "(%d of %"PRIu64" bytes)\n", pos, FFMAX(ret, 0), size);
            else
                av_log(s, AV_LOG_ERROR, "record at byte %"PRId64": CRC mismatch\n", pos);
            if ((ret = start_damage(s, pos)) < 0)
                return ret;
            if (pkt->size <= 0) {
                av_packet_unref(pkt);
                continue;
            }
            pkt->flags |= AV_PKT_FLAG_CORRUPT;
            return 0;
        }
        switch (pkt->data[0]) {
        case TVC_PKT_GOP:
            if (ff_tvc_parse_gop(pkt->data, pkt->size, &g) < 0) {
                pkt->flags |= AV_PKT_FLAG_CORRUPT;
                return 0;
            }
            pkt->pts = pkt->dts = g.first_pts;
            if (c->frame_rate.num > 0 && c->frame_rate.den > 0)
                pkt->duration = av_rescale_q(g.frame_count, av_inv_q(c->frame_rate), st->time_base);
            pkt->flags |= AV_PKT_FLAG_KEY;
            pkt->stream_index = 0;
            return 0;
        case TVC_PKT_END:
            c->ended = 1;
            av_packet_unref(pkt);
            return AVERROR_EOF;
        default:
            /* A repeated sequence header or a packet type of a later minor version. */
            av_packet_unref(pkt);
            continue;
        }
    }
}

#if LIBAVFORMAT_VERSION_MAJOR >= 61
const FFInputFormat ff_tvc_demuxer = {
    .p.name         = "tvc",
    .p.long_name    = NULL_IF_CONFIG_SMALL("TVC (token-based video codec) stream"),
    .p.extensions   = "tvc",
    .p.flags        = AVFMT_GENERIC_INDEX,
#else
const AVInputFormat ff_tvc_demuxer = {
    .name           = "tvc",
    .long_name      = NULL_IF_CONFIG_SMALL("TVC (token-based video codec) stream"),
    .extensions     = "tvc",
    .flags          = AVFMT_GENERIC_INDEX,
#endif
    .priv_data_size = sizeof(TvcDemuxContext),
    .read_probe     = tvc_probe,
    .read_header    = tvc_read_header,
    .read_packet    = tvc_read_packet,
};
