/*
 * tvc.h - public C API of the TVC video codec (libtvc).
 *
 * This is the interface the FFmpeg wrapper (ffmpeg_filter/) talks to. It follows
 * the send/receive model of libavcodec, dav1d and rav1e:
 *
 *   encoder: tvc_encoder_send_frame() ... tvc_encoder_receive_packet()
 *   decoder: tvc_decoder_send_packet() ... tvc_decoder_receive_frame()
 *
 * A receive call returns TVC_EAGAIN when more input is needed and TVC_EOF once
 * a flush (send with NULL) has drained everything. Contexts are opaque. Settings
 * structs are filled with defaults by tvc_*_default_settings() and carry
 * reserved space so fields can be added without breaking the ABI. Released
 * signatures never change; new behaviour comes as new functions.
 *
 * Every function that can fail returns a tvc_error code (0 = success, negative
 * = failure); tvc_strerror() turns it into a fixed English string, and the log
 * callback in the settings receives the details (which packet, which field).
 *
 * Threading: a context may be used from one thread at a time; distinct
 * contexts are independent and may be used from different threads at once.
 *
 * What runs where (docs/capi.md): libtvc hosts the tvc_ffmpeg Python package
 * (the same Encoder/Decoder that `import tvc_ffmpeg` gives). In a process
 * without Python (ffmpeg) the first open starts an embedded interpreter of the
 * Python the package was installed with and releases its GIL; in a process
 * that already runs Python (PyAV, ctypes) the library joins it. Every call
 * takes the GIL for its duration, so calls into libtvc from several threads
 * run one at a time. The interpreter is never finalised. Build against the
 * installed copy: `tvc config --cflags --libs`, or pkg-config with
 * PKG_CONFIG_PATH=$(tvc config --pkg-config-path). FFmpeg's wrapper over this
 * API: docs/ffmpeg.md.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef TVC_TVC_H
#define TVC_TVC_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(TVC_BUILDING_LIBRARY)
#    define TVC_API __declspec(dllexport)
#  else
#    define TVC_API
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define TVC_API __attribute__((visibility("default")))
#else
#  define TVC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this header's ABI: bump MINOR when adding functions or using
 * reserved space, MAJOR only if a released signature had to change. */
#define TVC_API_VERSION_MAJOR 0
#define TVC_API_VERSION_MINOR 2
#define TVC_API_VERSION ((TVC_API_VERSION_MAJOR << 16) | TVC_API_VERSION_MINOR)

/* Error codes. Stable: values are never reused or renumbered. The Python
 * package mirrors this enum once, in python/tvc_ffmpeg/errors.py (one exception
 * class per failure code); tests/test_errors.py parses this enum and keeps the
 * two equal, so add a code in both places. */
enum tvc_error {
    TVC_OK = 0,
    TVC_EAGAIN = -1,              /* feed more input before receiving */
    TVC_EOF = -2,                 /* flushed: nothing more will come out */
    TVC_EINVAL = -3,              /* bad argument or setting from the caller */
    TVC_EINVALIDDATA = -4,        /* malformed or inconsistent stream data */
    TVC_ETRUNCATED = -5,          /* stream data ends before it should */
    TVC_ECRC = -6,                /* packet CRC32 does not match its bytes */
    TVC_EUNSUPPORTED_VERSION = -7,/* bitstream major version newer than this library */
    TVC_EMODEL_MISMATCH = -8,     /* stream made with another model or other weights */
    TVC_ENOMEM = -9,              /* allocation failed */
    TVC_ELIMIT = -10,             /* a size limit was exceeded (frame size, packet size) */
    TVC_EBACKEND = -11,           /* the neural-network runtime failed */
    TVC_EINTERNAL = -12           /* a bug in libtvc: please report it */
};

/* Fixed English description of an error code; never NULL. Values outside
 * enum tvc_error give "unknown error code". */
TVC_API const char *tvc_strerror(int error);

/* Library version string, e.g. "0.1.0". */
TVC_API const char *tvc_version(void);

/* TVC_API_VERSION of the library actually loaded. */
TVC_API unsigned tvc_api_version(void);

typedef struct TvcEncoder TvcEncoder;
typedef struct TvcDecoder TvcDecoder;

typedef struct TvcRational {
    int num;
    int den;
} TvcRational;

enum tvc_log_level {
    TVC_LOG_ERROR = 0,
    TVC_LOG_WARNING = 1,
    TVC_LOG_INFO = 2,
    TVC_LOG_DEBUG = 3
};

/* Receives the library's log lines (without trailing newline). */
typedef void (*tvc_log_callback)(void *opaque, int level, const char *message);

/* Chroma formats (as in the sequence header, docs/bitstream.md). */
enum tvc_chroma_format {
    TVC_CHROMA_400 = 0,
    TVC_CHROMA_420 = 1,
    TVC_CHROMA_422 = 2,
    TVC_CHROMA_444 = 3
};

/* Properties of the coded video. Colour fields use ITU-T H.273 code points,
 * which are the numeric values of FFmpeg's AVColorPrimaries,
 * AVColorTransferCharacteristic and AVColorSpace; color_range uses
 * 0 = unspecified, 1 = limited (MPEG), 2 = full (JPEG), as AVColorRange does. */
typedef struct TvcVideoInfo {
    int width;
    int height;
    TvcRational frame_rate;
    TvcRational time_base;
    TvcRational sample_aspect_ratio;
    int color_primaries;
    int color_trc;
    int colorspace;
    int color_range;
    int chroma_format;            /* enum tvc_chroma_format of the source */
    int bit_depth;                /* of the source */
    uint8_t reserved[32];
} TvcVideoInfo;

/* The two settings structs are mirrored field for field by EncoderSettings and
 * DecoderSettings in python/tvc_ffmpeg/settings.py, which the library hosts: the defaults
 * and checks live there (0 / NULL / -1 below mean "that default"), and
 * tests/test_settings.py checks that the field lists agree. */
typedef struct TvcEncoderSettings {
    const char *model;            /* a shipped model id (docs/models.md); NULL = default model */
    const char *weights_path;     /* NULL = weights bundled with the package */
    const char *backend;          /* "auto", "torch", "onnxruntime", "tensorrt"; NULL = "auto" */
    int quality;                  /* quality level, higher = better; -1 = default */
    int64_t bitrate;              /* target bits per second; 0 = constant-quality mode */
    int gop_length;               /* frames per GoP, 1 + 8k; 0 = default (33) */
    int mask_pattern;             /* 0..3 = share of tokens dropped (docs/codec.md); -1 = auto */
    int threads;                  /* 0 = library default */
    int64_t max_pixels;           /* largest picture accepted; 0 = default (4096x2304) */
    int64_t max_gop_pixels;       /* most coded pixels in one GoP; 0 = default */
    TvcVideoInfo video;           /* properties of the frames that will be sent */
    tvc_log_callback log_callback;/* NULL = log to stderr */
    void *log_opaque;
    int log_level;                /* enum tvc_log_level; messages above it are dropped */
    int colour_correction;        /* 1 = send each GoP's mean Y/U/V offset (substream kind 128,
                                     docs/codec.md), 0 = do not; -1 = default (1). Taken from
                                     reserved: the struct's size is unchanged */
    uint8_t reserved[60];
} TvcEncoderSettings;

typedef struct TvcDecoderSettings {
    const char *model;            /* NULL = the model the stream names */
    const char *weights_path;     /* NULL = weights bundled with the package */
    const char *backend;          /* as in TvcEncoderSettings */
    int threads;
    int64_t max_pixels;           /* as in TvcEncoderSettings: larger streams are refused */
    int64_t max_gop_pixels;       /* (TVC_ELIMIT) before anything is allocated */
    tvc_log_callback log_callback;
    void *log_opaque;
    int log_level;
    uint8_t reserved[64];
} TvcDecoderSettings;

/* An 8-bit planar YUV picture. For input the caller owns the planes; for
 * output the library does, until tvc_picture_unref(). */
typedef struct TvcPicture {
    uint8_t *data[3];
    ptrdiff_t stride[3];
    int width;
    int height;
    int64_t pts;
    void *priv;                   /* library-internal; do not touch */
    uint8_t reserved[32];
} TvcPicture;

#define TVC_PACKET_FLAG_KEY 1     /* every GoP packet is a keyframe packet */

/* "No timestamp" (the value of FFmpeg's AV_NOPTS_VALUE). */
#define TVC_NOPTS ((int64_t)UINT64_C(0x8000000000000000))

/* A coded packet (one GoP). Owned by the library until tvc_packet_unref(). */
typedef struct TvcPacket {
    const uint8_t *data;
    size_t size;
    int64_t pts;                  /* pts of the GoP's first frame */
    int64_t duration;             /* in time_base units */
    int flags;                    /* TVC_PACKET_FLAG_* */
    void *priv;
    uint8_t reserved[32];
} TvcPacket;

TVC_API void tvc_encoder_default_settings(TvcEncoderSettings *settings);
TVC_API void tvc_decoder_default_settings(TvcDecoderSettings *settings);

/* Encoder. The sequence header (for FFmpeg's extradata, or the first record
 * of a .tvc file) is available right after open; it stays valid until close.
 * settings->video must give width and height; frame_rate 0 = 25 fps,
 * time_base 0 = 1/frame_rate. Pictures are 8-bit 4:2:0 of that size, pts in
 * time_base; the caller keeps ownership of their planes (they are copied).
 * send_frame never returns TVC_EAGAIN: a GoP's packet is queued as soon as
 * its last frame arrives. receive_packet: TVC_EAGAIN until a GoP is complete,
 * TVC_EOF after the flush has drained. A packet's data is one GoP packet
 * (docs/bitstream.md, without the .tvc record framing), pts = its first
 * frame's pts, duration = frames x frame duration in time_base units. */
TVC_API int tvc_encoder_open(TvcEncoder **encoder, const TvcEncoderSettings *settings);
TVC_API int tvc_encoder_get_header(TvcEncoder *encoder, const uint8_t **data, size_t *size);
/* picture == NULL starts the flush. */
TVC_API int tvc_encoder_send_frame(TvcEncoder *encoder, const TvcPicture *picture);
TVC_API int tvc_encoder_receive_packet(TvcEncoder *encoder, TvcPacket *packet);
TVC_API void tvc_packet_unref(TvcPacket *packet);
/* Frees the context and sets *encoder to NULL; NULL is accepted. */
TVC_API void tvc_encoder_close(TvcEncoder **encoder);

/* Decoder. header/header_size is the sequence header (extradata).
 * send_packet decodes one GoP packet and queues its frames (it never returns
 * TVC_EAGAIN); receive_frame hands them out one by one (TVC_EAGAIN when none
 * is queued, TVC_EOF once flushed and drained). Picture planes belong to the
 * library until tvc_picture_unref(). pts: the GoP's first frame's pts in the
 * stream's time_base (tvc_decoder_get_video_info), frame i gets pts + i x
 * frame duration; TVC_NOPTS = use the pts stored in the packet. GoPs must come
 * in increasing gop_index order: a gap is logged (warning), a repeated or
 * reordered GoP is logged and dropped (TVC_OK, no frames). */
TVC_API int tvc_decoder_open(TvcDecoder **decoder, const TvcDecoderSettings *settings,
                             const uint8_t *header, size_t header_size);
TVC_API int tvc_decoder_get_video_info(TvcDecoder *decoder, TvcVideoInfo *info);
/* data == NULL starts the flush. A damaged packet returns its error and is
 * dropped; decoding resumes with the next packet. */
TVC_API int tvc_decoder_send_packet(TvcDecoder *decoder, const uint8_t *data, size_t size,
                                    int64_t pts);
TVC_API int tvc_decoder_receive_frame(TvcDecoder *decoder, TvcPicture *picture);
TVC_API void tvc_picture_unref(TvcPicture *picture);
/* Drops queued frames and forgets the GoP order (after a seek); sending may
 * resume, also after a flush. Added in API 0.2. */
TVC_API int tvc_decoder_flush(TvcDecoder *decoder);
TVC_API void tvc_decoder_close(TvcDecoder **decoder);

#ifdef __cplusplus
}
#endif

#endif /* TVC_TVC_H */
