/*
 * TVC (token-based video codec) .tvc file demuxer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Records become packets: the sequence header becomes the stream's extradata (and gives
 * size, rates and colour fields to the stream), each GoP packet one keyframe AVPacket
 * whose pts is the GoP's first pts, the end-of-stream packet ends the stream. A record
 * whose CRC fails is still passed on, flagged corrupt and without a time stamp, so the
 * decoder reports it and loses that GoP only. Builds against FFmpeg 5.1 and 7.1.
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
} TvcDemuxContext;

static int tvc_probe(const AVProbeData *p)
{
    if (p->buf_size >= TVC_SIGNATURE_SIZE + 3 &&
        !memcmp(p->buf, TVC_SIGNATURE, TVC_SIGNATURE_SIZE) &&
        p->buf[TVC_SIGNATURE_SIZE] == TVC_SYNC0 && p->buf[TVC_SIGNATURE_SIZE + 1] == TVC_SYNC1)
        return AVPROBE_SCORE_MAX;
    return 0;
}

/* Reads the record size after "TV"; <0 on EOF or an out-of-range size. */
static int read_record_size(AVFormatContext *s, uint64_t *size)
{
    AVIOContext *pb = s->pb;
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        int b = avio_r8(pb);
        if (avio_feof(pb))
            return AVERROR_EOF;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (v < 1 || v > TVC_MAX_RECORD) {
                av_log(s, AV_LOG_ERROR, "record size %"PRIu64" out of range 1..%d\n", v, TVC_MAX_RECORD);
                return AVERROR_INVALIDDATA;
            }
            *size = v;
            return 0;
        }
    }
    return AVERROR_INVALIDDATA;
}

/* Moves to the next "TV" sync; returns <0 at the end of the file. */
static int find_sync(AVFormatContext *s, int report)
{
    AVIOContext *pb = s->pb;
    int64_t start = avio_tell(pb);
    int prev = -1;
    for (;;) {
        int b = avio_r8(pb);
        if (avio_feof(pb))
            return AVERROR_EOF;
        if (prev == TVC_SYNC0 && b == TVC_SYNC1) {
            if (report && avio_tell(pb) - 2 != start)
                av_log(s, AV_LOG_ERROR, "lost record sync at byte %"PRId64"; resumed at byte %"PRId64"\n",
                       start, avio_tell(pb) - 2);
            return 0;
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

    if (avio_read(pb, sig, TVC_SIGNATURE_SIZE) != TVC_SIGNATURE_SIZE ||
        memcmp(sig, TVC_SIGNATURE, TVC_SIGNATURE_SIZE)) {
        av_log(s, AV_LOG_ERROR, "not a .tvc file (no TVC signature)\n");
        return AVERROR_INVALIDDATA;
    }
    if (avio_r8(pb) != TVC_SYNC0 || avio_r8(pb) != TVC_SYNC1 || read_record_size(s, &size) < 0) {
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
        pos = avio_tell(pb);
        ret = avio_r8(pb);
        if (avio_feof(pb))
            return AVERROR_EOF;
        if (ret != TVC_SYNC0 || avio_r8(pb) != TVC_SYNC1) {
            avio_seek(pb, pos, SEEK_SET);
            if ((ret = find_sync(s, 1)) < 0)
                return ret;
        }
        if ((ret = read_record_size(s, &size)) < 0) {
            if (ret == AVERROR_EOF) {
                av_log(s, AV_LOG_ERROR, "the .tvc file ends inside a record\n");
                return ret;
            }
            continue; /* a damaged size: look for the next sync */
        }
        ret = av_get_packet(pb, pkt, (int)size);
        if (ret < 0)
            return ret;
        pkt->pos = pos;
        if ((uint64_t)ret < size) {
            av_log(s, AV_LOG_ERROR, "the .tvc file ends inside a record (%d of %"PRIu64" bytes)\n",
                   ret, size);
            pkt->flags |= AV_PKT_FLAG_CORRUPT;
            c->ended = 1;
            return 0; /* handed on, so the decoder counts the loss */
        }
        if (!ff_tvc_crc_ok(pkt->data, pkt->size)) {
            av_log(s, AV_LOG_ERROR, "record at byte %"PRId64": CRC mismatch\n", pos);
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
