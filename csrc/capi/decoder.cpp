// TvcDecoder: tvc.h's decoder context over capi_host.DecoderHost (the Python Decoder).
#include <cstring>
#include <new>

#include "host.hpp"

using tvc_capi::Gil;
using tvc_capi::Ref;

struct TvcDecoder {
  PyObject* host = nullptr;  // capi_host.DecoderHost
  PyObject* sink = nullptr;
  tvc_log_callback log_callback = nullptr;
  void* log_opaque = nullptr;
  int log_level = TVC_LOG_INFO;
};

namespace {

// The planes of one decoded picture: views of numpy arrays the library keeps alive
// until tvc_picture_unref.
struct PicturePlanes {
  Py_buffer view[3];
  int held = 0;
};

void free_decoder(TvcDecoder* d) {
  if (!d) return;
  if (d->host || d->sink) {
    Gil gil;
    if (d->host) {
      Ref done(PyObject_CallMethod(d->host, "close", nullptr));
      if (!done) PyErr_Clear();
    }
    Py_CLEAR(d->host);
    Py_CLEAR(d->sink);
  }
  delete d;
}

int fail(const TvcDecoder* d, int code, const char* message) {
  tvc_capi::log_line(d ? d->log_callback : nullptr, d ? d->log_opaque : nullptr,
                     d ? d->log_level : TVC_LOG_ERROR, TVC_LOG_ERROR, message);
  return code;
}

void release_planes(PicturePlanes* planes) {
  for (int i = 0; i < planes->held; ++i) PyBuffer_Release(&planes->view[i]);
  delete planes;
}

}  // namespace

extern "C" {

int tvc_decoder_open(TvcDecoder** decoder, const TvcDecoderSettings* s, const uint8_t* header,
                     size_t header_size) {
  if (!decoder) return fail(nullptr, TVC_EINVAL, "tvc_decoder_open: decoder is NULL");
  *decoder = nullptr;
  if (!s) return fail(nullptr, TVC_EINVAL, "tvc_decoder_open: settings is NULL (use tvc_decoder_default_settings)");
  auto* d = new (std::nothrow) TvcDecoder;
  if (!d) return TVC_ENOMEM;
  d->log_callback = s->log_callback;
  d->log_opaque = s->log_opaque;
  d->log_level = s->log_level;
  if (!header || header_size == 0) {
    delete d;
    return fail(nullptr, TVC_EINVAL, "tvc_decoder_open: the sequence header (extradata) is missing");
  }
  int rc = tvc_capi::ensure_host(d->log_callback, d->log_opaque, d->log_level);
  if (rc != TVC_OK) {
    delete d;
    return rc;
  }
  {
    Gil gil;
    Ref settings(Py_BuildValue("{s:z,s:z,s:z,s:i,s:L,s:L}", "model", s->model, "weights_path",
                               s->weights_path, "backend", s->backend, "threads", s->threads,
                               "max_pixels", static_cast<long long>(s->max_pixels), "max_gop_pixels",
                               static_cast<long long>(s->max_gop_pixels)));
    d->sink = tvc_capi::make_sink(d->log_callback, d->log_opaque);
    if (settings && d->sink) {
      d->host = PyObject_CallMethod(tvc_capi::host_module(), "DecoderHost", "Oy#Oi", settings.get(),
                                    reinterpret_cast<const char*>(header),
                                    static_cast<Py_ssize_t>(header_size), d->sink, d->log_level);
    }
    rc = tvc_capi::result_code(d->host, d->sink);
    if (rc == TVC_OK) {
      Ref opened(PyObject_CallMethod(d->host, "open", nullptr));
      rc = tvc_capi::result_code(opened.get(), d->sink);
    }
  }
  if (rc != TVC_OK) {
    free_decoder(d);
    return rc;
  }
  *decoder = d;
  return TVC_OK;
}

int tvc_decoder_get_video_info(TvcDecoder* d, TvcVideoInfo* info) {
  if (!d || !info) return fail(d, TVC_EINVAL, "tvc_decoder_get_video_info: NULL argument");
  std::memset(info, 0, sizeof(*info));
  Gil gil;
  Ref result(PyObject_CallMethod(d->host, "video_info", nullptr));
  int rc = tvc_capi::result_code(result.get(), d->sink);
  if (rc != TVC_OK) return rc;
  if (!PyArg_ParseTuple(result.get(), "iiiiiiiiiiiiii", &info->width, &info->height,
                        &info->frame_rate.num, &info->frame_rate.den, &info->time_base.num,
                        &info->time_base.den, &info->sample_aspect_ratio.num,
                        &info->sample_aspect_ratio.den, &info->color_primaries, &info->color_trc,
                        &info->colorspace, &info->color_range, &info->chroma_format, &info->bit_depth))
    return tvc_capi::result_code(nullptr, d->sink);
  return TVC_OK;
}

int tvc_decoder_send_packet(TvcDecoder* d, const uint8_t* data, size_t size, int64_t pts) {
  if (!d) return fail(nullptr, TVC_EINVAL, "tvc_decoder_send_packet: decoder is NULL");
  Gil gil;
  // data == NULL is the flush: None on the Python side.
  Ref result(data ? PyObject_CallMethod(d->host, "send_packet", "y#L", reinterpret_cast<const char*>(data),
                                        static_cast<Py_ssize_t>(size), static_cast<long long>(pts))
                  : PyObject_CallMethod(d->host, "send_packet", "OL", Py_None, static_cast<long long>(pts)));
  return tvc_capi::result_code(result.get(), d->sink);
}

int tvc_decoder_receive_frame(TvcDecoder* d, TvcPicture* picture) {
  if (!d || !picture) return fail(d, TVC_EINVAL, "tvc_decoder_receive_frame: NULL argument");
  std::memset(picture, 0, sizeof(*picture));
  Gil gil;
  Ref result(PyObject_CallMethod(d->host, "receive_frame", nullptr));
  int rc = tvc_capi::result_code(result.get(), d->sink);
  if (rc != TVC_OK) return rc;
  PyObject* planes[3] = {nullptr, nullptr, nullptr};
  long long pts = 0;
  if (!PyArg_ParseTuple(result.get(), "OOOL", &planes[0], &planes[1], &planes[2], &pts))
    return tvc_capi::result_code(nullptr, d->sink);
  auto* held = new (std::nothrow) PicturePlanes;
  if (!held) return TVC_ENOMEM;
  for (int i = 0; i < 3; ++i) {
    Py_buffer& view = held->view[i];
    if (PyObject_GetBuffer(planes[i], &view, PyBUF_STRIDES) != 0) {
      release_planes(held);
      return tvc_capi::result_code(nullptr, d->sink);
    }
    held->held = i + 1;
    if (view.ndim != 2 || view.itemsize != 1 || view.strides[1] != 1) {
      release_planes(held);
      return fail(d, TVC_EINTERNAL, "tvc_decoder_receive_frame: a plane is not 2-D 8-bit rows");
    }
    picture->data[i] = static_cast<uint8_t*>(view.buf);
    picture->stride[i] = view.strides[0];
  }
  picture->width = static_cast<int>(held->view[0].shape[1]);
  picture->height = static_cast<int>(held->view[0].shape[0]);
  picture->pts = pts;
  picture->priv = held;
  return TVC_OK;
}

void tvc_picture_unref(TvcPicture* picture) {
  if (!picture) return;
  if (picture->priv) {
    Gil gil;
    release_planes(static_cast<PicturePlanes*>(picture->priv));
  }
  std::memset(picture, 0, sizeof(*picture));
}

int tvc_decoder_flush(TvcDecoder* d) {
  if (!d) return fail(nullptr, TVC_EINVAL, "tvc_decoder_flush: decoder is NULL");
  Gil gil;
  Ref result(PyObject_CallMethod(d->host, "flush", nullptr));
  return tvc_capi::result_code(result.get(), d->sink);
}

void tvc_decoder_close(TvcDecoder** decoder) {
  if (!decoder) return;
  free_decoder(*decoder);
  *decoder = nullptr;
}

}  // extern "C"
