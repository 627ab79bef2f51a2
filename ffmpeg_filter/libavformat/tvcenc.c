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
#include "libavutil/mem.h"

#include "avformat.h"
#include "internal.h"
#include "mux.h"
#include "tvcformat.h"

typedef struct TvcMuxContext {
    uint64_t gop_count;
    uint64_t frame_count;
    int header_written;
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
    if (s->nb_streams != 1 || s->streams[0]->codecpar->codec_id != AV_CODEC_ID_TVC) {
        av_log(s, AV_LOG_ERROR, "a .tvc file holds exactly one TVC video stream (-c:v libtvc)\n");
        return AVERROR(EINVAL);
    }
    return 0;
}

/* The signature and the sequence header. The header is the stream's extradata, or, for a
 * stream copied from MPEG-TS (which has no extradata), the in-band copy that starts the
 * first packet: so the file is written when the first packet arrives.
 *
 * This muxer always ends the file with an end-of-stream packet, so it sets the header's
 * flag bit 0 that promises one (a live encoder leaves it clear) and fixes the CRC: a
 * reader can then tell a complete file from a cut one, and the file equals `tvc encode`'s. */
static int write_file_header(AVFormatContext *s, const uint8_t *header, size_t size)
{
    TvcMuxContext *c = s->priv_data;
    AVCodecParameters *par = s->streams[0]->codecpar;
    uint8_t *copy;
    size_t pos = 1;
    uint64_t fields;

    if (!par->extradata_size) {
        int ret = ff_alloc_extradata(par, (int)size);
        if (ret < 0)
            return ret;
        memcpy(par->extradata, header, size);
    }
    if (!(copy = av_memdup(header, size)))
        return AVERROR(ENOMEM);
    /* flags: u16 at byte 102 of the 2.x header fields (docs/bitstream.md) */
    if (ff_tvc_read_uv(copy, size, &pos, &fields) == 0 && fields >= 104 && pos + fields + 4 == size &&
        copy[pos] == 2) {
        copy[pos + 102] |= 1;
        AV_WL32(copy + size - 4, ff_tvc_crc(copy, size - 4));
    }
    avio_write(s->pb, (const uint8_t *)TVC_SIGNATURE, TVC_SIGNATURE_SIZE);
    write_record(s->pb, copy, size);
    av_free(copy);
    c->header_written = 1;
    return 0;
}

static int tvc_write_header(AVFormatContext *s)
{
    AVCodecParameters *par = s->streams[0]->codecpar;
    if (par->extradata_size > 0) {
        if (par->extradata[0] != TVC_PKT_SEQUENCE_HEADER) {
            av_log(s, AV_LOG_ERROR, "the TVC stream's extradata is not a sequence header\n");
            return AVERROR_INVALIDDATA;
        }
        return write_file_header(s, par->extradata, par->extradata_size);
    }
    return 0;
}

/* Size of the packet (type, uv header_size, fields, CRC) of a header-only packet at data. */
static size_t header_packet_size(const uint8_t *data, size_t size)
{
    size_t pos = 1;
    uint64_t fields;
    if (size < 2 || data[0] != TVC_PKT_SEQUENCE_HEADER ||
        ff_tvc_read_uv(data, size, &pos, &fields) < 0 || fields > size || pos + fields + 4 > size)
        return 0;
    return pos + (size_t)fields + 4;
}

static int tvc_write_packet(AVFormatContext *s, AVPacket *pkt)
{
    TvcMuxContext *c = s->priv_data;
    AVCodecParameters *par = s->streams[0]->codecpar;
    const uint8_t *data = pkt->data;
    size_t size = pkt->size;
    size_t hsize = header_packet_size(data, size);
    TvcGopInfo g;
    int ret;

    if (hsize) {
        if (!c->header_written && (ret = write_file_header(s, data, hsize)) < 0)
            return ret;
        if (hsize != (size_t)par->extradata_size || memcmp(data, par->extradata, hsize)) {
            av_log(s, AV_LOG_ERROR, "a packet carries a different TVC sequence header: "
                   "one .tvc file holds one stream\n");
            return AVERROR_INVALIDDATA;
        }
        data += hsize;
        size -= hsize;
    }
    if (!c->header_written) {
        av_log(s, AV_LOG_ERROR, "the TVC stream has no sequence header (no extradata, none in-band)\n");
        return AVERROR_INVALIDDATA;
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

    if (!c->header_written)
        return 0; /* no header, no packet: nothing that could be a .tvc file */

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
    /* GLOBALHEADER: ffmpeg asks the encoder for extradata, not in-band headers.
     * VARIABLE_FPS: frames are passed as they come, none duplicated or dropped. */
    .p.flags          = AVFMT_GLOBALHEADER | AVFMT_VARIABLE_FPS,
#else
const AVOutputFormat ff_tvc_muxer = {
    .name             = "tvc",
    .long_name        = NULL_IF_CONFIG_SMALL("TVC (token-based video codec) stream"),
    .extensions       = "tvc",
    .audio_codec      = AV_CODEC_ID_NONE,
    .video_codec      = AV_CODEC_ID_TVC,
    .subtitle_codec   = AV_CODEC_ID_NONE,
    .flags            = AVFMT_GLOBALHEADER | AVFMT_VARIABLE_FPS,
#endif
    .priv_data_size   = sizeof(TvcMuxContext),
    .init             = tvc_init,
    .write_header     = tvc_write_header,
    .write_packet     = tvc_write_packet,
    .write_trailer    = tvc_write_trailer,
};
