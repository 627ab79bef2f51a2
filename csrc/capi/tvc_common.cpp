// The parts of the C API that do not need the codec pipeline: version,
// error strings and default settings (also linked into tvc_core for _native).
#include <cstring>

#include "tvc/tvc.h"

#ifndef TVC_VERSION_STRING
#error "TVC_VERSION_STRING must be defined by the build"
#endif

extern "C" {

const char* tvc_version(void) { return TVC_VERSION_STRING; }

unsigned tvc_api_version(void) { return TVC_API_VERSION; }

const char* tvc_strerror(int error) {
  switch (error) {
    case TVC_OK: return "success";
    case TVC_EAGAIN: return "more input needed";
    case TVC_EOF: return "end of stream";
    case TVC_EINVAL: return "invalid argument";
    case TVC_EINVALIDDATA: return "invalid data in stream";
    case TVC_ETRUNCATED: return "truncated data";
    case TVC_ECRC: return "CRC mismatch (damaged packet)";
    case TVC_EUNSUPPORTED_VERSION: return "unsupported bitstream version";
    case TVC_EMODEL_MISMATCH: return "stream was made with another model or other weights";
    case TVC_ENOMEM: return "out of memory";
    case TVC_ELIMIT: return "size limit exceeded";
    case TVC_EBACKEND: return "neural-network backend failed";
    case TVC_EINTERNAL: return "internal error";
    default: return "unknown error code";
  }
}

void tvc_encoder_default_settings(TvcEncoderSettings* s) {
  if (!s) return;
  std::memset(s, 0, sizeof(*s));
  s->quality = -1;
  s->colour_correction = -1;
  s->video.time_base.den = 1;  // num 0: one tick per frame (1 / frame_rate)
  s->video.frame_rate.den = 1;
  s->video.sample_aspect_ratio.den = 1;
  s->video.color_primaries = 2;  // unspecified
  s->video.color_trc = 2;
  s->video.colorspace = 2;
  s->video.chroma_format = TVC_CHROMA_420;
  s->video.bit_depth = 8;
  s->log_level = TVC_LOG_INFO;
}

void tvc_decoder_default_settings(TvcDecoderSettings* s) {
  if (!s) return;
  std::memset(s, 0, sizeof(*s));
  s->log_level = TVC_LOG_INFO;
}

}  // extern "C"
