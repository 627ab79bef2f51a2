/*
 * Round trip through libtvc's C API only, the way FFmpeg uses it: a program that links
 * libtvc and nothing of Python. tests/test_capi.py builds it with `tvc config --cflags
 * --libs`, runs it on a raw clip and compares what it writes with the Python API.
 *
 *   capi_roundtrip IN.yuv WIDTH HEIGHT FRAMES GOP OUTDIR
 *
 * IN.yuv holds FRAMES tightly packed I420 pictures. Frames are sent with padded strides,
 * pts = 5000 + 40 i in time base 1/1000 at 25 fps. OUTDIR receives: header.bin; packets.bin
 * and packets.txt ("size pts duration flags" per packet); frames.yuv and frames.txt (pts
 * per decoded frame); checks.txt ("name value" lines: damage, repeat, bad settings); log.txt.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tvc/tvc.h"

#define MAX_PACKETS 64
#define PTS0 5000
#define TICKS_PER_FRAME 40

static int g_warnings;
static FILE *g_log;

static void on_log(void *opaque, int level, const char *message) {
    (void)opaque;
    if (level == TVC_LOG_WARNING) g_warnings++;
    fprintf(g_log, "%d %s\n", level, message);
    fflush(g_log);
}

static FILE *open_out(const char *dir, const char *name, const char *mode) {
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, mode);
    if (!f) {
        perror(path);
        exit(2);
    }
    return f;
}

static void die(const char *what, int rc) {
    fprintf(stderr, "capi_roundtrip: %s: %s (%d)\n", what, tvc_strerror(rc), rc);
    exit(1);
}

typedef struct {
    unsigned char *data;
    size_t size;
    long long pts;
} Packet;

static void decoder_settings(TvcDecoderSettings *ds) {
    tvc_decoder_default_settings(ds);
    ds->backend = "torch";
    ds->threads = 1;
    ds->log_callback = on_log;
    ds->log_level = TVC_LOG_DEBUG;
}

/* Receives every queued frame; writes them when out is not NULL. Returns the count. */
static int drain_frames(TvcDecoder *dec, FILE *yuv, FILE *txt) {
    int n = 0, rc, plane, row;
    TvcPicture pic;
    while ((rc = tvc_decoder_receive_frame(dec, &pic)) == TVC_OK) {
        for (plane = 0; yuv && plane < 3; plane++) {
            int w = plane ? (pic.width + 1) / 2 : pic.width;
            int h = plane ? (pic.height + 1) / 2 : pic.height;
            for (row = 0; row < h; row++) fwrite(pic.data[plane] + row * pic.stride[plane], 1, (size_t)w, yuv);
        }
        if (txt) fprintf(txt, "%lld\n", (long long)pic.pts);
        tvc_picture_unref(&pic);
        n++;
    }
    if (rc != TVC_EAGAIN && rc != TVC_EOF) die("tvc_decoder_receive_frame", rc);
    return n;
}

int main(int argc, char **argv) {
    int width, height, frames, gop, i, rc, npackets = 0, plane;
    const char *outdir;
    FILE *in, *f, *txt, *checks;
    TvcEncoderSettings es;
    TvcDecoderSettings ds;
    TvcEncoder *enc = NULL;
    TvcDecoder *dec = NULL;
    TvcVideoInfo info;
    Packet packets[MAX_PACKETS];
    const uint8_t *header;
    size_t header_size, frame_size, cw, ch;
    unsigned char *tight, *padded;
    ptrdiff_t strides[3];

    if (argc != 7) {
        fprintf(stderr, "usage: capi_roundtrip IN.yuv WIDTH HEIGHT FRAMES GOP OUTDIR\n");
        return 2;
    }
    width = atoi(argv[2]);
    height = atoi(argv[3]);
    frames = atoi(argv[4]);
    gop = atoi(argv[5]);
    outdir = argv[6];
    g_log = open_out(outdir, "log.txt", "w");
    checks = open_out(outdir, "checks.txt", "w");
    fprintf(checks, "api_version %u\n", tvc_api_version());

    /* Settings the library must refuse, with a message through the callback. */
    tvc_encoder_default_settings(&es);
    es.backend = "no-such-backend";
    es.video.width = width;
    es.video.height = height;
    es.log_callback = on_log;
    fprintf(checks, "bad_backend_rc %d\n", tvc_encoder_open(&enc, &es));
    fprintf(checks, "bad_backend_enc_null %d\n", enc == NULL);

    tvc_encoder_default_settings(&es);
    es.backend = "torch";
    es.threads = 1;
    es.gop_length = gop;
    es.video.width = width;
    es.video.height = height;
    es.video.frame_rate.num = 25;
    es.video.frame_rate.den = 1;
    es.video.time_base.num = 1;
    es.video.time_base.den = 1000;
    es.log_callback = on_log;
    es.log_level = TVC_LOG_DEBUG;
    rc = tvc_encoder_open(&enc, &es);
    if (rc) die("tvc_encoder_open", rc);
    rc = tvc_encoder_get_header(enc, &header, &header_size);
    if (rc) die("tvc_encoder_get_header", rc);
    f = open_out(outdir, "header.bin", "wb");
    fwrite(header, 1, header_size, f);
    fclose(f);

    /* Frames in, with strides wider than the planes: the library must honour them. */
    cw = (size_t)(width + 1) / 2;
    ch = (size_t)(height + 1) / 2;
    frame_size = (size_t)width * (size_t)height + 2 * cw * ch;
    strides[0] = width + 13;
    strides[1] = strides[2] = (ptrdiff_t)cw + 7;
    tight = malloc(frame_size);
    padded = calloc((size_t)strides[0] * (size_t)height + 2 * (size_t)strides[1] * ch, 1);
    in = fopen(argv[1], "rb");
    if (!tight || !padded || !in) {
        fprintf(stderr, "capi_roundtrip: cannot read %s\n", argv[1]);
        return 2;
    }
    for (i = 0; i <= frames; i++) {
        TvcPicture pic;
        TvcPacket pkt;
        if (i < frames) {
            const unsigned char *src = tight;
            unsigned char *dst = padded;
            size_t row;
            if (fread(tight, 1, frame_size, in) != frame_size) {
                fprintf(stderr, "capi_roundtrip: %s is short\n", argv[1]);
                return 2;
            }
            memset(&pic, 0, sizeof pic);
            for (plane = 0; plane < 3; plane++) {
                size_t w = plane ? cw : (size_t)width, h = plane ? ch : (size_t)height;
                pic.data[plane] = dst;
                pic.stride[plane] = strides[plane];
                for (row = 0; row < h; row++) memcpy(dst + row * (size_t)strides[plane], src + row * w, w);
                src += w * h;
                dst += (size_t)strides[plane] * h;
            }
            pic.width = width;
            pic.height = height;
            pic.pts = PTS0 + (long long)i * TICKS_PER_FRAME;
            rc = tvc_encoder_send_frame(enc, &pic);
        } else {
            rc = tvc_encoder_send_frame(enc, NULL); /* flush */
        }
        if (rc) die("tvc_encoder_send_frame", rc);
        while ((rc = tvc_encoder_receive_packet(enc, &pkt)) == TVC_OK) {
            Packet *p;
            if (npackets == MAX_PACKETS) die("too many packets", TVC_EINTERNAL);
            p = &packets[npackets++];
            p->data = malloc(pkt.size);
            memcpy(p->data, pkt.data, pkt.size);
            p->size = pkt.size;
            p->pts = pkt.pts;
            fprintf(checks, "packet %d %zu %lld %lld %d\n", npackets - 1, pkt.size, (long long)pkt.pts,
                    (long long)pkt.duration, pkt.flags);
            tvc_packet_unref(&pkt);
            if (pkt.data != NULL || pkt.priv != NULL) die("tvc_packet_unref left data", TVC_EINTERNAL);
        }
        if (rc != (i < frames ? TVC_EAGAIN : TVC_EOF)) die("tvc_encoder_receive_packet", rc);
    }
    fprintf(checks, "send_after_flush_rc %d\n", tvc_encoder_send_frame(enc, NULL));
    free(tight);
    free(padded);
    fclose(in);
    f = open_out(outdir, "packets.bin", "wb");
    for (i = 0; i < npackets; i++) fwrite(packets[i].data, 1, packets[i].size, f);
    fclose(f);

    /* Decode everything: frames and their pts. */
    decoder_settings(&ds);
    rc = tvc_decoder_open(&dec, &ds, header, header_size);
    if (rc) die("tvc_decoder_open", rc);
    rc = tvc_decoder_get_video_info(dec, &info);
    if (rc) die("tvc_decoder_get_video_info", rc);
    fprintf(checks, "info %d %d %d/%d %d/%d\n", info.width, info.height, info.frame_rate.num,
            info.frame_rate.den, info.time_base.num, info.time_base.den);
    f = open_out(outdir, "frames.yuv", "wb");
    txt = open_out(outdir, "frames.txt", "w");
    for (i = 0; i < npackets; i++) {
        /* The first packet's pts comes from the packet itself. */
        rc = tvc_decoder_send_packet(dec, packets[i].data, packets[i].size, i ? packets[i].pts : TVC_NOPTS);
        if (rc) die("tvc_decoder_send_packet", rc);
        drain_frames(dec, f, txt);
    }
    rc = tvc_decoder_send_packet(dec, NULL, 0, TVC_NOPTS);
    if (rc) die("tvc_decoder_send_packet(flush)", rc);
    drain_frames(dec, f, txt);
    fprintf(checks, "receive_after_flush_rc %d\n", tvc_decoder_receive_frame(dec, &(TvcPicture){0}));
    fclose(f);
    fclose(txt);
    tvc_decoder_close(&dec);
    fprintf(checks, "decoder_closed_null %d\n", dec == NULL);

    /* A damaged packet returns its error; the next one decodes; a repeat is dropped. */
    if (npackets >= 2) {
        unsigned char *bad = malloc(packets[0].size);
        int warnings_before;
        memcpy(bad, packets[0].data, packets[0].size);
        bad[packets[0].size / 2] ^= 0x5a;
        rc = tvc_decoder_open(&dec, &ds, header, header_size);
        if (rc) die("tvc_decoder_open", rc);
        fprintf(checks, "damaged_rc %d\n", tvc_decoder_send_packet(dec, bad, packets[0].size, TVC_NOPTS));
        fprintf(checks, "damaged_frames %d\n", drain_frames(dec, NULL, NULL));
        fprintf(checks, "next_rc %d\n", tvc_decoder_send_packet(dec, packets[1].data, packets[1].size, TVC_NOPTS));
        fprintf(checks, "next_frames %d\n", drain_frames(dec, NULL, NULL));
        warnings_before = g_warnings;
        fprintf(checks, "repeat_rc %d\n", tvc_decoder_send_packet(dec, packets[1].data, packets[1].size, TVC_NOPTS));
        fprintf(checks, "repeat_frames %d\n", drain_frames(dec, NULL, NULL));
        fprintf(checks, "repeat_warnings %d\n", g_warnings - warnings_before);
        rc = tvc_decoder_flush(dec);
        fprintf(checks, "flush_rc %d\n", rc);
        fprintf(checks, "after_flush_rc %d\n",
                tvc_decoder_send_packet(dec, packets[0].data, packets[0].size, TVC_NOPTS));
        fprintf(checks, "after_flush_frames %d\n", drain_frames(dec, NULL, NULL));
        tvc_decoder_close(&dec);
        free(bad);
    }
    /* A header that is not one. */
    {
        static const uint8_t junk[16] = {1, 2, 3};
        fprintf(checks, "bad_header_rc %d\n", tvc_decoder_open(&dec, &ds, junk, sizeof junk));
    }
    for (i = 0; i < npackets; i++) free(packets[i].data);
    tvc_encoder_close(&enc);
    tvc_encoder_close(&enc); /* closing twice is harmless: *enc is NULL */
    fprintf(checks, "done 1\n");
    fclose(checks);
    fclose(g_log);
    return 0;
}
