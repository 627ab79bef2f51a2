/*
 * TVC (token-based video codec) encoder and decoder through libtvc.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * This file is grafted into FFmpeg's libavcodec by ffmpeg_filter/graft.py and builds
 * unchanged against FFmpeg 5.1 (lavc 59) and 7.1 (lavc 61); the few API differences
 * between the two are handled by the version checks below.
 *
 * Stream layout inside FFmpeg (docs/ffmpeg.md):
 *   - extradata = the sequence-header packet (type 1) that tvc_encoder_get_header() gives;
 *   - one AVPacket = one GoP packet (type 2), always a keyframe;
 *   - when the muxer asks for no global header (MPEG-TS, raw pipes) every packet starts
 *     with a copy of the sequence-header packet, so a receiver that joins late or never
 *     saw extradata can still open the decoder. The decoder recognises the copy by its
 *     packet type and splits it off.
 *
 * Time stamps: the library counts pts in the stream's own time base (the sequence
 * header's, which the encoder sets to avctx->time_base). The decoder rescales between
 * that and the container's packet time base.
 */

#include <string.h>

#include <tvc/tvc.h>

#include "libavutil/avstring.h"
#include "libavutil/common.h"
#include "libavutil/dict.h"
#include "libavutil/imgutils.h"
#include "libavutil/internal.h"
#include "libavutil/mathematics.h"
#include "libavutil/mem.h"
#include "libavutil/opt.h"
#include "libavutil/pixdesc.h"

#include "avcodec.h"
#include "codec_internal.h"
#include "decode.h"
#include "encode.h"
#include "internal.h"

/* GoP lengths of the shipped models are 1 + k x their temporal factor (docs/codec.md). */
#define TVC_TEMPORAL_FACTOR 8
#define TVC_PACKET_TYPE_SEQUENCE_HEADER 1

/* ------------------------------------------------------------------ shared helpers */

/* The one table from libtvc's error codes to FFmpeg's. */
static const struct {
    int tvc;
    int av;
} tvc_error_table[] = {
    { TVC_EAGAIN,               AVERROR(EAGAIN) },
    { TVC_EOF,                  AVERROR_EOF },
    { TVC_EINVAL,               AVERROR(EINVAL) },
    { TVC_EINVALIDDATA,         AVERROR_INVALIDDATA },
    { TVC_ETRUNCATED,           AVERROR_INVALIDDATA },
    { TVC_ECRC,                 AVERROR_INVALIDDATA },
    { TVC_EUNSUPPORTED_VERSION, AVERROR_PATCHWELCOME },
    { TVC_EMODEL_MISMATCH,      AVERROR_DECODER_NOT_FOUND },
    { TVC_ENOMEM,               AVERROR(ENOMEM) },
    { TVC_ELIMIT,               AVERROR(ERANGE) },
    { TVC_EBACKEND,             AVERROR_EXTERNAL },
    { TVC_EINTERNAL,            AVERROR_BUG },
};

static int tvc_to_averror(int err)
{
    if (err >= 0)
        return err;
    for (int i = 0; i < FF_ARRAY_ELEMS(tvc_error_table); i++)
        if (tvc_error_table[i].tvc == err)
            return tvc_error_table[i].av;
    return AVERROR_EXTERNAL;
}

/* Reports a failed libtvc call once, with the library's own words, and converts it. */
static int tvc_fail(AVCodecContext *avctx, const char *what, int err)
{
    av_log(avctx, AV_LOG_ERROR, "%s: %s\n", what, tvc_strerror(err));
    return tvc_to_averror(err);
}

static void tvc_log_to_av(void *opaque, int level, const char *message)
{
    static const int levels[] = { AV_LOG_ERROR, AV_LOG_WARNING, AV_LOG_INFO, AV_LOG_DEBUG };
    int av_level = level >= 0 && level < FF_ARRAY_ELEMS(levels) ? levels[level] : AV_LOG_DEBUG;
    av_log(opaque, av_level, "%s\n", message);
}

/* FFmpeg's log level, as the library's, so it drops what av_log would drop anyway. */
static int tvc_log_level(void)
{
    int level = av_log_get_level();
    if (level >= AV_LOG_DEBUG)
        return TVC_LOG_DEBUG;
    if (level >= AV_LOG_INFO)
        return TVC_LOG_INFO;
    if (level >= AV_LOG_WARNING)
        return TVC_LOG_WARNING;
    return TVC_LOG_ERROR;
}

static TvcRational to_tvc_q(AVRational q)
{
    TvcRational r = { q.num, q.den };
    return r;
}

static AVRational from_tvc_q(TvcRational q)
{
    return av_make_q(q.num, q.den);
}

/* Size of the sequence-header packet at the start of data (type, uv header_size, fields,
 * CRC32), or 0 when data does not start with one. */
static size_t tvc_header_packet_size(const uint8_t *data, size_t size)
{
    uint64_t fields = 0;
    size_t pos = 1;
    int shift = 0;

    if (size < 2 || data[0] != TVC_PACKET_TYPE_SEQUENCE_HEADER)
        return 0;
    for (;;) {
        if (pos >= size || shift > 63)
            return 0;
        fields |= (uint64_t)(data[pos] & 0x7f) << shift;
        shift += 7;
        if (!(data[pos++] & 0x80))
            break;
    }
    if (fields > size || pos + fields + 4 > size)
        return 0;
    return pos + (size_t)fields + 4;
}

/* ------------------------------------------------------------------ encoder */

typedef struct LibTvcEncContext {
    const AVClass *class;
    TvcEncoder *encoder;
    AVDictionary *tvc_params;
    const uint8_t *header;     /* owned by the encoder */
    size_t header_size;
    int inband_header;         /* prepend the sequence header to every packet */
    int flushing;
    int64_t frames_sent;
} LibTvcEncContext;

static int parse_int_param(AVCodecContext *avctx, const char *key, const char *value,
                           int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(value, &end, 10);
    if (!*value || *end || v < min || v > max) {
        av_log(avctx, AV_LOG_ERROR, "-tvc-params %s=%s: expected an integer %"PRId64"..%"PRId64"\n",
               key, value, min, max);
        return AVERROR(EINVAL);
    }
    *out = v;
    return 0;
}

/* The fields TvcEncoderSettings and TvcDecoderSettings share, as the -tvc-params keys
 * both codecs take (settings.py's _SessionSettings on the Python side). */
typedef struct TvcSharedParams {
    const char **model;
    const char **weights_path;
    const char **backend;
    int *threads;
    int64_t *max_pixels;
    int64_t *max_gop_pixels;
} TvcSharedParams;

#define TVC_SHARED_KEYS "model, weights, backend, threads, max_pixels, max_gop_pixels"

/* Applies one -tvc-params entry if it is a shared key: 1 when applied, 0 when the key is
 * not a shared one, a negative AVERROR for a bad value. */
static int apply_shared_param(AVCodecContext *avctx, const AVDictionaryEntry *e, TvcSharedParams p)
{
    int64_t v;
    int ret;

    if (!strcmp(e->key, "model")) {
        *p.model = e->value;
    } else if (!strcmp(e->key, "weights")) {
        *p.weights_path = e->value;
    } else if (!strcmp(e->key, "backend")) {
        *p.backend = e->value;
    } else if (!strcmp(e->key, "threads")) {
        if ((ret = parse_int_param(avctx, e->key, e->value, 0, 1024, &v)) < 0)
            return ret;
        *p.threads = (int)v;
    } else if (!strcmp(e->key, "max_pixels")) {
        if ((ret = parse_int_param(avctx, e->key, e->value, 1, INT64_MAX, &v)) < 0)
            return ret;
        *p.max_pixels = v;
    } else if (!strcmp(e->key, "max_gop_pixels")) {
        if ((ret = parse_int_param(avctx, e->key, e->value, 1, INT64_MAX, &v)) < 0)
            return ret;
        *p.max_gop_pixels = v;
    } else {
        return 0;
    }
    return 1;
}

/* Fills the settings that -tvc-params names; an unknown key is refused so a typo never
 * passes silently. String values point into the dictionary, which lives as long as the
 * context. */
static int apply_tvc_params(AVCodecContext *avctx, TvcEncoderSettings *s)
{
    LibTvcEncContext *ctx = avctx->priv_data;
    const TvcSharedParams shared = { &s->model, &s->weights_path, &s->backend, &s->threads,
                                     &s->max_pixels, &s->max_gop_pixels };
    const AVDictionaryEntry *e = NULL;
    int64_t v;
    int ret;

    while ((e = av_dict_get(ctx->tvc_params, "", e, AV_DICT_IGNORE_SUFFIX))) {
        if ((ret = apply_shared_param(avctx, e, shared)) != 0) {
            if (ret < 0)
                return ret;
        } else if (!strcmp(e->key, "mask_pattern")) {
            if (!strcmp(e->value, "auto")) {
                s->mask_pattern = -1;
            } else {
                if ((ret = parse_int_param(avctx, e->key, e->value, 0, 255, &v)) < 0)
                    return ret;
                s->mask_pattern = (int)v;
            }
        } else if (!strcmp(e->key, "colour_correction")) {
            if ((ret = parse_int_param(avctx, e->key, e->value, 0, 1, &v)) < 0)
                return ret;
            s->colour_correction = (int)v;
        } else {
            av_log(avctx, AV_LOG_ERROR, "-tvc-params: unknown key '%s' (known: "
                   TVC_SHARED_KEYS ", mask_pattern, colour_correction)\n", e->key);
            return AVERROR(EINVAL);
        }
    }
    return 0;
}

static int gop_length_from_avctx(AVCodecContext *avctx)
{
    int g = avctx->gop_size, k, rounded;

    if (g <= 0)
        return 0;
    k = (g - 1 + TVC_TEMPORAL_FACTOR / 2) / TVC_TEMPORAL_FACTOR;
    rounded = 1 + TVC_TEMPORAL_FACTOR * k;
    if (rounded != g)
        av_log(avctx, AV_LOG_WARNING, "-g %d is not 1 + %d*k frames: using %d\n",
               g, TVC_TEMPORAL_FACTOR, rounded);
    return rounded;
}

static int libtvc_encode_init(AVCodecContext *avctx)
{
    LibTvcEncContext *ctx = avctx->priv_data;
    TvcEncoderSettings s;
    TvcVideoInfo *v = &s.video;
    const uint8_t *header;
    size_t header_size;
    int ret;

    tvc_encoder_default_settings(&s);
    s.log_callback = tvc_log_to_av;
    s.log_opaque = avctx;
    s.log_level = tvc_log_level();

    if (avctx->flags & AV_CODEC_FLAG_QSCALE)
        s.quality = (int)lrintf(avctx->global_quality / (float)FF_QP2LAMBDA);
    if (avctx->bit_rate > 0)
        s.bitrate = avctx->bit_rate;
    s.gop_length = gop_length_from_avctx(avctx);
    if ((ret = apply_tvc_params(avctx, &s)) < 0)
        return ret;

    v->width = avctx->width;
    v->height = avctx->height;
    v->time_base = to_tvc_q(avctx->time_base);
    if (avctx->framerate.num > 0 && avctx->framerate.den > 0)
        v->frame_rate = to_tvc_q(avctx->framerate);
    else
        v->frame_rate = to_tvc_q(av_inv_q(avctx->time_base));
    if (avctx->sample_aspect_ratio.num > 0 && avctx->sample_aspect_ratio.den > 0)
        v->sample_aspect_ratio = to_tvc_q(avctx->sample_aspect_ratio);
    v->color_primaries = avctx->color_primaries;
    v->color_trc = avctx->color_trc;
    v->colorspace = avctx->colorspace;
    v->color_range = avctx->color_range;
    v->chroma_format = TVC_CHROMA_420;
    v->bit_depth = 8;

    if ((ret = tvc_encoder_open(&ctx->encoder, &s)) < 0)
        return tvc_fail(avctx, "cannot open the TVC encoder", ret);
    if ((ret = tvc_encoder_get_header(ctx->encoder, &header, &header_size)) < 0)
        return tvc_fail(avctx, "cannot get the TVC sequence header", ret);

    avctx->extradata = av_mallocz(header_size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!avctx->extradata)
        return AVERROR(ENOMEM);
    memcpy(avctx->extradata, header, header_size);
    avctx->extradata_size = (int)header_size;
    ctx->header = header;
    ctx->header_size = header_size;
    /* A muxer without global headers (MPEG-TS) would lose extradata on the way. */
    ctx->inband_header = !(avctx->flags & AV_CODEC_FLAG_GLOBAL_HEADER);
    return 0;
}

static int send_frame(AVCodecContext *avctx, const AVFrame *frame)
{
    LibTvcEncContext *ctx = avctx->priv_data;
    TvcPicture pic;
    int ret;

    memset(&pic, 0, sizeof(pic));
    for (int i = 0; i < 3; i++) {
        pic.data[i] = frame->data[i];
        pic.stride[i] = frame->linesize[i];
    }
    pic.width = frame->width;
    pic.height = frame->height;
    /* Without time stamps the frame's index stands in: pts then counts frames. */
    pic.pts = frame->pts != AV_NOPTS_VALUE ? frame->pts : ctx->frames_sent;
    ctx->frames_sent++;
    if ((ret = tvc_encoder_send_frame(ctx->encoder, &pic)) < 0)
        return tvc_fail(avctx, "TVC encoder refused a frame", ret);
    return 0;
}

static int output_packet(AVCodecContext *avctx, AVPacket *pkt, TvcPacket *tp)
{
    LibTvcEncContext *ctx = avctx->priv_data;
    size_t prefix = ctx->inband_header ? ctx->header_size : 0;
    int ret;

    if (tp->size + prefix > INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE) {
        tvc_packet_unref(tp);
        return AVERROR(ERANGE);
    }
    ret = ff_get_encode_buffer(avctx, pkt, (int64_t)(tp->size + prefix), 0);
    if (ret >= 0) {
        if (prefix)
            memcpy(pkt->data, ctx->header, prefix);
        memcpy(pkt->data + prefix, tp->data, tp->size);
        pkt->pts = pkt->dts = tp->pts;
        pkt->duration = tp->duration;
        pkt->flags |= AV_PKT_FLAG_KEY;
    }
    tvc_packet_unref(tp);
    return ret;
}

/* A GoP's packet leaves as soon as its last frame arrived: latency is one GoP. */
static int libtvc_receive_packet(AVCodecContext *avctx, AVPacket *pkt)
{
    LibTvcEncContext *ctx = avctx->priv_data;
    AVFrame *frame = NULL;
    int ret;

    for (;;) {
        TvcPacket tp;
        memset(&tp, 0, sizeof(tp));
        ret = tvc_encoder_receive_packet(ctx->encoder, &tp);
        if (ret == TVC_OK)
            return output_packet(avctx, pkt, &tp);
        if (ret == TVC_EOF)
            return AVERROR_EOF;
        if (ret != TVC_EAGAIN)
            return tvc_fail(avctx, "TVC encoding failed", ret);
        if (ctx->flushing)
            return tvc_fail(avctx, "TVC encoder asked for input after the flush", TVC_EINTERNAL);

        if (!frame && !(frame = av_frame_alloc()))
            return AVERROR(ENOMEM);
        ret = ff_encode_get_frame(avctx, frame);
        if (ret == AVERROR_EOF) {
            ctx->flushing = 1;
            if ((ret = tvc_encoder_send_frame(ctx->encoder, NULL)) < 0) {
                av_frame_free(&frame);
                return tvc_fail(avctx, "TVC encoder flush failed", ret);
            }
            continue;
        }
        if (ret < 0) {
            av_frame_free(&frame);
            return ret; /* EAGAIN: no frame yet */
        }
        ret = send_frame(avctx, frame);
        av_frame_unref(frame);
        if (ret < 0) {
            av_frame_free(&frame);
            return ret;
        }
    }
}

static av_cold int libtvc_encode_close(AVCodecContext *avctx)
{
    LibTvcEncContext *ctx = avctx->priv_data;
    tvc_encoder_close(&ctx->encoder);
    return 0;
}

#define OFFSET_E(x) offsetof(LibTvcEncContext, x)
#define VE AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_ENCODING_PARAM
static const AVOption libtvc_enc_options[] = {
    { "tvc-params", "set libtvc options as key=value:... (model, weights, backend, mask_pattern, "
      "colour_correction, threads, max_pixels, max_gop_pixels)", OFFSET_E(tvc_params), AV_OPT_TYPE_DICT, { 0 }, 0, 0, VE },
    { NULL },
};

static const AVClass libtvc_enc_class = {
    .class_name = "libtvc encoder",
    .item_name  = av_default_item_name,
    .option     = libtvc_enc_options,
    .version    = LIBAVUTIL_VERSION_INT,
};

/* lavc's generic defaults (200 kb/s, GoP 12) would override the library's own. */
static const FFCodecDefault libtvc_enc_defaults[] = {
    { "b", "0" },
    { "g", "0" },
    { NULL },
};

static const enum AVPixelFormat libtvc_pix_fmts[] = { AV_PIX_FMT_YUV420P, AV_PIX_FMT_NONE };

const FFCodec ff_libtvc_encoder = {
    .p.name         = "libtvc",
    .p.long_name    = NULL_IF_CONFIG_SMALL("libtvc TVC (token-based video codec)"),
    .p.type         = AVMEDIA_TYPE_VIDEO,
    .p.id           = AV_CODEC_ID_TVC,
    .p.capabilities = AV_CODEC_CAP_DELAY | AV_CODEC_CAP_DR1,
    .p.pix_fmts     = libtvc_pix_fmts,
    .p.priv_class   = &libtvc_enc_class,
    .p.wrapper_name = "libtvc",
    .priv_data_size = sizeof(LibTvcEncContext),
    .init           = libtvc_encode_init,
    FF_CODEC_RECEIVE_PACKET_CB(libtvc_receive_packet),
    .close          = libtvc_encode_close,
    .defaults       = libtvc_enc_defaults,
    .caps_internal  = FF_CODEC_CAP_INIT_CLEANUP
#ifdef FF_CODEC_CAP_INIT_THREADSAFE
                    | FF_CODEC_CAP_INIT_THREADSAFE
#endif
    ,
};

/* ------------------------------------------------------------------ decoder */

typedef struct LibTvcDecContext {
    const AVClass *class;
    TvcDecoder *decoder;
    TvcVideoInfo info;
    uint8_t *header;           /* the sequence header the decoder was opened with */
    size_t header_size;
    AVPacket *pkt;
    int flushing;
    AVDictionary *tvc_params;
} LibTvcDecContext;

static int apply_dec_params(AVCodecContext *avctx, TvcDecoderSettings *s)
{
    LibTvcDecContext *ctx = avctx->priv_data;
    const TvcSharedParams shared = { &s->model, &s->weights_path, &s->backend, &s->threads,
                                     &s->max_pixels, &s->max_gop_pixels };
    const AVDictionaryEntry *e = NULL;
    int ret;

    while ((e = av_dict_get(ctx->tvc_params, "", e, AV_DICT_IGNORE_SUFFIX))) {
        if ((ret = apply_shared_param(avctx, e, shared)) < 0)
            return ret;
        if (ret == 0) {
            av_log(avctx, AV_LOG_ERROR, "-tvc-params: unknown key '%s' (known: " TVC_SHARED_KEYS ")\n",
                   e->key);
            return AVERROR(EINVAL);
        }
    }
    return 0;
}

static int open_decoder(AVCodecContext *avctx, const uint8_t *header, size_t header_size)
{
    LibTvcDecContext *ctx = avctx->priv_data;
    TvcDecoderSettings s;
    TvcVideoInfo *v = &ctx->info;
    int ret;

    tvc_decoder_default_settings(&s);
    s.log_callback = tvc_log_to_av;
    s.log_opaque = avctx;
    s.log_level = tvc_log_level();
    if ((ret = apply_dec_params(avctx, &s)) < 0)
        return ret;
    if ((ret = tvc_decoder_open(&ctx->decoder, &s, header, header_size)) < 0)
        return tvc_fail(avctx, "cannot open the TVC decoder for this stream", ret);
    if ((ret = tvc_decoder_get_video_info(ctx->decoder, v)) < 0)
        return tvc_fail(avctx, "cannot read the TVC stream's properties", ret);

    av_freep(&ctx->header);
    if (!(ctx->header = av_memdup(header, header_size)))
        return AVERROR(ENOMEM);
    ctx->header_size = header_size;

    if ((ret = ff_set_dimensions(avctx, v->width, v->height)) < 0)
        return ret;
    avctx->pix_fmt = AV_PIX_FMT_YUV420P;
    if (v->frame_rate.num > 0 && v->frame_rate.den > 0)
        avctx->framerate = from_tvc_q(v->frame_rate);
    if (v->sample_aspect_ratio.num > 0 && v->sample_aspect_ratio.den > 0)
        avctx->sample_aspect_ratio = from_tvc_q(v->sample_aspect_ratio);
    avctx->color_primaries = v->color_primaries;
    avctx->color_trc = v->color_trc;
    avctx->colorspace = v->colorspace;
    avctx->color_range = v->color_range;
    return 0;
}

static int libtvc_decode_init(AVCodecContext *avctx)
{
    LibTvcDecContext *ctx = avctx->priv_data;

    if (!(ctx->pkt = av_packet_alloc()))
        return AVERROR(ENOMEM);
    avctx->pix_fmt = AV_PIX_FMT_YUV420P;
    /* Without extradata the first packet must carry the header (in-band, MPEG-TS). */
    if (avctx->extradata_size > 0)
        return open_decoder(avctx, avctx->extradata, avctx->extradata_size);
    return 0;
}

/* The stream's own time base (pts inside the library) and the container's. */
static AVRational stream_tb(LibTvcDecContext *ctx)
{
    return from_tvc_q(ctx->info.time_base);
}

static int64_t to_stream_pts(AVCodecContext *avctx, int64_t pts)
{
    LibTvcDecContext *ctx = avctx->priv_data;
    if (pts == AV_NOPTS_VALUE || avctx->pkt_timebase.num <= 0)
        return pts;
    return av_rescale_q(pts, avctx->pkt_timebase, stream_tb(ctx));
}

static int64_t from_stream_pts(AVCodecContext *avctx, int64_t pts)
{
    LibTvcDecContext *ctx = avctx->priv_data;
    if (pts == AV_NOPTS_VALUE || avctx->pkt_timebase.num <= 0)
        return pts;
    return av_rescale_q(pts, stream_tb(ctx), avctx->pkt_timebase);
}

/* Splits an in-band sequence header off the packet; opens the decoder on the first one.
 * A header that differs from the one in use is a different stream: refused. */
static int take_inband_header(AVCodecContext *avctx, const uint8_t **data, size_t *size)
{
    LibTvcDecContext *ctx = avctx->priv_data;
    size_t hsize = tvc_header_packet_size(*data, *size);
    int ret;

    if (!hsize)
        return 0;
    if (!ctx->decoder) {
        if ((ret = open_decoder(avctx, *data, hsize)) < 0)
            return ret;
    } else if (hsize != ctx->header_size || memcmp(*data, ctx->header, hsize)) {
        av_log(avctx, AV_LOG_ERROR, "the TVC sequence header changed mid-stream: "
               "a stream switch is not supported\n");
        return AVERROR_PATCHWELCOME;
    }
    *data += hsize;
    *size -= hsize;
    return 0;
}

static int output_frame(AVCodecContext *avctx, AVFrame *frame, TvcPicture *pic)
{
    LibTvcDecContext *ctx = avctx->priv_data;
    TvcVideoInfo *v = &ctx->info;
    int ret;

    if (pic->width != avctx->width || pic->height != avctx->height) {
        av_log(avctx, AV_LOG_ERROR, "libtvc returned a %dx%d picture for a %dx%d stream\n",
               pic->width, pic->height, avctx->width, avctx->height);
        tvc_picture_unref(pic);
        return AVERROR_BUG;
    }
    if ((ret = ff_get_buffer(avctx, frame, 0)) < 0) {
        tvc_picture_unref(pic);
        return ret;
    }
    for (int i = 0; i < 3; i++) {
        int w = i ? AV_CEIL_RSHIFT(pic->width, 1) : pic->width;
        int h = i ? AV_CEIL_RSHIFT(pic->height, 1) : pic->height;
        av_image_copy_plane(frame->data[i], frame->linesize[i], pic->data[i],
                            (int)pic->stride[i], w, h);
    }
    frame->pts = from_stream_pts(avctx, pic->pts);
#if LIBAVUTIL_VERSION_MAJOR >= 58
    frame->pkt_dts = AV_NOPTS_VALUE;
    if (v->frame_rate.num > 0 && avctx->pkt_timebase.num > 0)
        frame->duration = av_rescale_q(1, av_inv_q(from_tvc_q(v->frame_rate)), avctx->pkt_timebase);
    else
        frame->duration = 0;
#else
    frame->pkt_dts = AV_NOPTS_VALUE;
    frame->pkt_duration = 0;
    if (v->frame_rate.num > 0 && avctx->pkt_timebase.num > 0)
        frame->pkt_duration = av_rescale_q(1, av_inv_q(from_tvc_q(v->frame_rate)), avctx->pkt_timebase);
#endif
#ifdef AV_FRAME_FLAG_KEY
    frame->flags |= AV_FRAME_FLAG_KEY;
#else
    frame->key_frame = 1;
#endif
    frame->pict_type = AV_PICTURE_TYPE_I;
    frame->sample_aspect_ratio = avctx->sample_aspect_ratio;
    frame->color_primaries = avctx->color_primaries;
    frame->color_trc = avctx->color_trc;
    frame->colorspace = avctx->colorspace;
    frame->color_range = avctx->color_range;
    tvc_picture_unref(pic);
    return 0;
}

/* One packet in, a GoP's worth of frames out: frames are drained before the next packet
 * is taken, so a damaged packet costs exactly its own GoP. */
static int libtvc_receive_frame(AVCodecContext *avctx, AVFrame *frame)
{
    LibTvcDecContext *ctx = avctx->priv_data;
    int ret;

    for (;;) {
        const uint8_t *data;
        size_t size;

        if (ctx->decoder) {
            TvcPicture pic;
            memset(&pic, 0, sizeof(pic));
            ret = tvc_decoder_receive_frame(ctx->decoder, &pic);
            if (ret == TVC_OK)
                return output_frame(avctx, frame, &pic);
            if (ret == TVC_EOF)
                return AVERROR_EOF;
            if (ret != TVC_EAGAIN)
                return tvc_fail(avctx, "TVC decoding failed", ret);
            if (ctx->flushing)
                return tvc_fail(avctx, "TVC decoder asked for input after the flush", TVC_EINTERNAL);
        }

        ret = ff_decode_get_packet(avctx, ctx->pkt);
        if (ret == AVERROR_EOF) {
            if (!ctx->decoder)
                return AVERROR_EOF;
            ctx->flushing = 1;
            if ((ret = tvc_decoder_send_packet(ctx->decoder, NULL, 0, 0)) < 0)
                return tvc_fail(avctx, "TVC decoder flush failed", ret);
            continue;
        }
        if (ret < 0)
            return ret;

        data = ctx->pkt->data;
        size = ctx->pkt->size;
        ret = take_inband_header(avctx, &data, &size);
        if (ret >= 0 && !ctx->decoder) {
            av_log(avctx, AV_LOG_ERROR, "no TVC sequence header yet (no extradata and none "
                   "in-band): packet dropped\n");
            ret = AVERROR_INVALIDDATA;
        }
        if (ret >= 0 && size) {
            ret = tvc_decoder_send_packet(ctx->decoder, data, size,
                                          to_stream_pts(avctx, ctx->pkt->pts));
            if (ret < 0)
                ret = tvc_fail(avctx, "TVC packet dropped", ret);
        }
        av_packet_unref(ctx->pkt);
        if (ret < 0)
            return ret;
    }
}

static void libtvc_decode_flush(AVCodecContext *avctx)
{
    LibTvcDecContext *ctx = avctx->priv_data;
    int ret;
    /* After a seek: queued frames go, and the GoP order starts afresh. */
    if (ctx->decoder && (ret = tvc_decoder_flush(ctx->decoder)) < 0)
        tvc_fail(avctx, "cannot reset the TVC decoder after a seek", ret);
    ctx->flushing = 0;
}

static av_cold int libtvc_decode_close(AVCodecContext *avctx)
{
    LibTvcDecContext *ctx = avctx->priv_data;
    tvc_decoder_close(&ctx->decoder);
    av_freep(&ctx->header);
    av_packet_free(&ctx->pkt);
    return 0;
}

#define OFFSET_D(x) offsetof(LibTvcDecContext, x)
#define VD AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_DECODING_PARAM
static const AVOption libtvc_dec_options[] = {
    { "tvc-params", "set libtvc options as key=value:... (model, weights, backend, threads, "
      "max_pixels, max_gop_pixels)", OFFSET_D(tvc_params), AV_OPT_TYPE_DICT, { 0 }, 0, 0, VD },
    { NULL },
};

static const AVClass libtvc_dec_class = {
    .class_name = "libtvc decoder",
    .item_name  = av_default_item_name,
    .option     = libtvc_dec_options,
    .version    = LIBAVUTIL_VERSION_INT,
};

const FFCodec ff_libtvc_decoder = {
    .p.name         = "libtvc",
    .p.long_name    = NULL_IF_CONFIG_SMALL("libtvc TVC (token-based video codec)"),
    .p.type         = AVMEDIA_TYPE_VIDEO,
    .p.id           = AV_CODEC_ID_TVC,
    .p.capabilities = AV_CODEC_CAP_DELAY | AV_CODEC_CAP_DR1,
    .p.priv_class   = &libtvc_dec_class,
    .p.wrapper_name = "libtvc",
    .priv_data_size = sizeof(LibTvcDecContext),
    .init           = libtvc_decode_init,
    FF_CODEC_RECEIVE_FRAME_CB(libtvc_receive_frame),
    .flush          = libtvc_decode_flush,
    .close          = libtvc_decode_close,
    .caps_internal  = FF_CODEC_CAP_INIT_CLEANUP
#ifdef FF_CODEC_CAP_INIT_THREADSAFE
                    | FF_CODEC_CAP_INIT_THREADSAFE
#endif
#ifdef FF_CODEC_CAP_SETS_FRAME_PROPS
                    | FF_CODEC_CAP_SETS_FRAME_PROPS
#endif
    ,
};
