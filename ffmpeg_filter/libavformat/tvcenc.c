/*
 * TVC (token-based video codec) .tvc file muxer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Writes the signature, the sequence header (the stream's extradata) as the first record,
 * one record per GoP packet, and on close the end-of-stream packet that tells a reader
 * the stream is complete (docs/bitstream.md). A packet that carries the sequence header
 * in-band (from MPEG-TS, or an encoder without global header) has it split off: the
 * file holds it once. Builds against FFmpeg 5.1 and 7.1.
 */

#include "libavutil/intreadwrite.h"

#include "avformat.h"
#include "internal.h"
#include "mux.h"
#include "tvcformat.h"

typedef struct TvcMuxContext {
    uint64_t gop_count;
    uint64_t frame_count;
} TvcMuxContext;

static void write_record(AVIOContext *pb, const uint8_t *data, size_t size)
{
    uint8_t uv[10];
    avio_w8(pb, TVC_SYNC0);
    avio_w8(pb, TVC_SYNC1);
    avio_write(pb, uv, ff_tvc_write_uv(uv, size));
    avio_write(pb, data, (int)size);
}

static int tvc_init(AVFormatContext *s)
{
    AVCodecParameters *par;
    if (s->nb_streams != 1 || s->streams[0]->codecpar->codec_id != AV_CODEC_ID_TVC) {
        av_log(s, AV_LOG_ERROR, "a .tvc file holds exactly one TVC video stream (-c:v libtvc)\n");
        return AVERROR(EINVAL);
    }
    par = s->streams[0]->codecpar;
    if (par->extradata_size < 6 || par->extradata[0] != TVC_PKT_SEQUENCE_HEADER) {
        av_log(s, AV_LOG_ERROR, "the TVC stream has no sequence header (extradata)\n");
        return AVERROR(EINVAL);
    }
    return 0;
}

static int tvc_write_header(AVFormatContext *s)
{
    AVCodecParameters *par = s->streams[0]->codecpar;
    avio_write(s->pb, (const uint8_t *)TVC_SIGNATURE, TVC_SIGNATURE_SIZE);
    write_record(s->pb, par->extradata, par->extradata_size);
    return 0;
}

static int tvc_write_packet(AVFormatContext *s, AVPacket *pkt)
{
    TvcMuxContext *c = s->priv_data;
    AVCodecParameters *par = s->streams[0]->codecpar;
    const uint8_t *data = pkt->data;
    size_t size = pkt->size;
    TvcGopInfo g;

    if (size >= (size_t)par->extradata_size && data[0] == TVC_PKT_SEQUENCE_HEADER) {
        if (memcmp(data, par->extradata, par->extradata_size)) {
            av_log(s, AV_LOG_ERROR, "a packet carries a different TVC sequence header: "
                   "one .tvc file holds one stream\n");
            return AVERROR_INVALIDDATA;
        }
        data += par->extradata_size;
        size -= par->extradata_size;
    }
    if (!size)
        return 0;
    if (size > TVC_MAX_RECORD) {
        av_log(s, AV_LOG_ERROR, "a %zu-byte packet exceeds the .tvc record limit\n", size);
        return AVERROR(ERANGE);
    }
    if (ff_tvc_parse_gop(data, size, &g) == 0) {
        c->gop_count++;
        c->frame_count += g.frame_count;
    }
    write_record(s->pb, data, size);
    return 0;
}

static int tvc_write_trailer(AVFormatContext *s)
{
    TvcMuxContext *c = s->priv_data;
    uint8_t end[1 + 10 + 20 + 4];
    uint8_t fields[20];
    int n = 0, f = 0;

    f += ff_tvc_write_uv(fields + f, c->gop_count);
    f += ff_tvc_write_uv(fields + f, c->frame_count);
    end[n++] = TVC_PKT_END;
    n += ff_tvc_write_uv(end + n, f);
    memcpy(end + n, fields, f);
    n += f;
    AV_WL32(end + n, ff_tvc_crc(end, n));
    n += 4;
    write_record(s->pb, end, n);
    return 0;
}

#if LIBAVFORMAT_VERSION_MAJOR >= 60
const FFOutputFormat ff_tvc_muxer = {
    .p.name           = "tvc",
    .p.long_name      = NULL_IF_CONFIG_SMALL("TVC (token-based video codec) stream"),
    .p.extensions     = "tvc",
    .p.audio_codec    = AV_CODEC_ID_NONE,
    .p.video_codec    = AV_CODEC_ID_TVC,
    .p.subtitle_codec = AV_CODEC_ID_NONE,
    /* So ffmpeg asks the encoder for extradata rather than in-band headers. */
    .p.flags          = AVFMT_GLOBALHEADER,
#else
const AVOutputFormat ff_tvc_muxer = {
    .name             = "tvc",
    .long_name        = NULL_IF_CONFIG_SMALL("TVC (token-based video codec) stream"),
    .extensions       = "tvc",
    .audio_codec      = AV_CODEC_ID_NONE,
    .video_codec      = AV_CODEC_ID_TVC,
    .subtitle_codec   = AV_CODEC_ID_NONE,
    .flags            = AVFMT_GLOBALHEADER,
#endif
    .priv_data_size   = sizeof(TvcMuxContext),
    .init             = tvc_init,
    .write_header     = tvc_write_header,
    .write_packet     = tvc_write_packet,
    .write_trailer    = tvc_write_trailer,
};
