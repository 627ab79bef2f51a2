// TvcEncoder: tvc.h's encoder context over capi_host.EncoderHost (the Python Encoder).
#include <cstring>
#include <new>

#include "host.hpp"

using tvc_capi::Gil;
using tvc_capi::Ref;

struct TvcEncoder {
  PyObject* host = nullptr;    // capi_host.EncoderHost
  PyObject* sink = nullptr;    // its log sink (also used for failures of the guard itself)
  PyObject* header = nullptr;  // bytes of the sequence header, alive as long as the context
  tvc_log_callback log_callback = nullptr;
  void* log_opaque = nullptr;
  int log_level = TVC_LOG_INFO;
};

namespace {

void free_encoder(TvcEncoder* e) {
  if (!e) return;
  if (e->host || e->sink) {
    Gil gil;
    if (e->host) {
      Ref done(PyObject_CallMethod(e->host, "close", nullptr));
      if (!done) PyErr_Clear();
    }
    Py_CLEAR(e->host);
    Py_CLEAR(e->sink);
    Py_CLEAR(e->header);
  }
  delete e;
}

int fail(const TvcEncoder* e, int code, const char* message) {
  tvc_capi::log_line(e ? e->log_callback : nullptr, e ? e->log_opaque : nullptr,
                     e ? e->log_level : TVC_LOG_ERROR, TVC_LOG_ERROR, message);
  return code;
}

// A read-only view of one plane the caller owns: rows x cols bytes, stride apart.
PyObject* plane_view(const uint8_t* data, ptrdiff_t stride, int cols, int rows) {
  Py_ssize_t size = static_cast<Py_ssize_t>(stride) * (rows - 1) + cols;
  return PyMemoryView_FromMemory(reinterpret_cast<char*>(const_cast<uint8_t*>(data)), size, PyBUF_READ);
}

}  // namespace

extern "C" {

int tvc_encoder_open(TvcEncoder** encoder, const TvcEncoderSettings* s) {
  if (!encoder) return fail(nullptr, TVC_EINVAL, "tvc_encoder_open: encoder is NULL");
  *encoder = nullptr;
  if (!s) return fail(nullptr, TVC_EINVAL, "tvc_encoder_open: settings is NULL (use tvc_encoder_default_settings)");
  auto* e = new (std::nothrow) TvcEncoder;
  if (!e) return TVC_ENOMEM;
  e->log_callback = s->log_callback;
  e->log_opaque = s->log_opaque;
  e->log_level = s->log_level;
  int rc = tvc_capi::ensure_host(e->log_callback, e->log_opaque, e->log_level);
  if (rc != TVC_OK) {
    delete e;
    return rc;
  }
  {
    Gil gil;
    const TvcVideoInfo& v = s->video;
    Ref settings(Py_BuildValue(
        "{s:z,s:z,s:z,s:i,s:L,s:i,s:i,s:i,s:L,s:L,s:i}", "model", s->model, "weights_path", s->weights_path,
        "backend", s->backend, "quality", s->quality, "bitrate", static_cast<long long>(s->bitrate),
        "gop_length", s->gop_length, "mask_pattern", s->mask_pattern, "threads", s->threads,
        "max_pixels", static_cast<long long>(s->max_pixels), "max_gop_pixels",
        static_cast<long long>(s->max_gop_pixels), "colour_correction", s->colour_correction));
    Ref video(Py_BuildValue(
        "{s:i,s:i,s:(ii),s:(ii),s:(ii),s:i,s:i,s:i,s:i,s:i,s:i}", "width", v.width, "height", v.height,
        "frame_rate", v.frame_rate.num, v.frame_rate.den, "time_base", v.time_base.num, v.time_base.den,
        "sample_aspect_ratio", v.sample_aspect_ratio.num, v.sample_aspect_ratio.den, "color_primaries",
        v.color_primaries, "color_trc", v.color_trc, "colorspace", v.colorspace, "color_range",
        v.color_range, "chroma_format", v.chroma_format, "bit_depth", v.bit_depth));
    e->sink = tvc_capi::make_sink(e->log_callback, e->log_opaque);
    if (settings && video && e->sink) {
      e->host = PyObject_CallMethod(tvc_capi::host_module(), "EncoderHost", "OOOi", settings.get(),
                                    video.get(), e->sink, e->log_level);
    }
    rc = tvc_capi::result_code(e->host, e->sink);  // NULL host: the reason is logged
    if (rc == TVC_OK) {
      Ref opened(PyObject_CallMethod(e->host, "open", nullptr));
      rc = tvc_capi::result_code(opened.get(), e->sink);
    }
    if (rc == TVC_OK) {
      e->header = PyObject_CallMethod(e->host, "header", nullptr);
      rc = tvc_capi::result_code(e->header, e->sink);
      if (rc == TVC_OK && !PyBytes_Check(e->header)) rc = TVC_EINTERNAL;
    }
  }
  if (rc != TVC_OK) {
    free_encoder(e);
    return rc;
  }
  *encoder = e;
  return TVC_OK;
}

int tvc_encoder_get_header(TvcEncoder* e, const uint8_t** data, size_t* size) {
  if (!e || !data || !size) return fail(e, TVC_EINVAL, "tvc_encoder_get_header: NULL argument");
  // The bytes object is immutable and held by the context: no GIL needed to read it.
  *data = reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(e->header));
  *size = static_cast<size_t>(PyBytes_GET_SIZE(e->header));
  return TVC_OK;
}

int tvc_encoder_send_frame(TvcEncoder* e, const TvcPicture* p) {
  if (!e) return fail(nullptr, TVC_EINVAL, "tvc_encoder_send_frame: encoder is NULL");
  if (p) {
    if (p->width < 1 || p->height < 1)
      return fail(e, TVC_EINVAL, "tvc_encoder_send_frame: picture width/height must be >= 1");
    const int cols[3] = {p->width, (p->width + 1) / 2, (p->width + 1) / 2};
    for (int i = 0; i < 3; ++i) {
      if (!p->data[i] || p->stride[i] < cols[i])
        return fail(e, TVC_EINVAL,
                    "tvc_encoder_send_frame: every plane needs data and a positive stride >= its width");
    }
  }
  Gil gil;
  if (p) {
    const int cw = (p->width + 1) / 2, ch = (p->height + 1) / 2;
    PyObject* built = Py_BuildValue(
        "(NnNnNniiL)", plane_view(p->data[0], p->stride[0], p->width, p->height),
        static_cast<Py_ssize_t>(p->stride[0]), plane_view(p->data[1], p->stride[1], cw, ch),
        static_cast<Py_ssize_t>(p->stride[1]), plane_view(p->data[2], p->stride[2], cw, ch),
        static_cast<Py_ssize_t>(p->stride[2]), p->width, p->height, static_cast<long long>(p->pts));
    if (!built) return tvc_capi::result_code(nullptr, e->sink);
    Ref owned(built);
    Ref result(PyObject_CallMethod(e->host, "send_frame", "(O)", owned.get()));
    return tvc_capi::result_code(result.get(), e->sink);
  }
  Ref result(PyObject_CallMethod(e->host, "send_frame", "(O)", Py_None));  // the flush
  return tvc_capi::result_code(result.get(), e->sink);
}

int tvc_encoder_receive_packet(TvcEncoder* e, TvcPacket* packet) {
  if (!e || !packet) return fail(e, TVC_EINVAL, "tvc_encoder_receive_packet: NULL argument");
  std::memset(packet, 0, sizeof(*packet));
  Gil gil;
  Ref result(PyObject_CallMethod(e->host, "receive_packet", nullptr));
  int rc = tvc_capi::result_code(result.get(), e->sink);
  if (rc != TVC_OK) return rc;
  PyObject* data = nullptr;
  long long pts = 0, duration = 0;
  int flags = 0;
  if (!PyArg_ParseTuple(result.get(), "SLLi", &data, &pts, &duration, &flags))
    return tvc_capi::result_code(nullptr, e->sink);
  Py_INCREF(data);  // released by tvc_packet_unref
  packet->data = reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(data));
  packet->size = static_cast<size_t>(PyBytes_GET_SIZE(data));
  packet->pts = pts;
  packet->duration = duration;
  packet->flags = flags;
  packet->priv = data;
  return TVC_OK;
}

void tvc_packet_unref(TvcPacket* packet) {
  if (!packet) return;
  if (packet->priv) {
    Gil gil;
    Py_DECREF(static_cast<PyObject*>(packet->priv));
  }
  std::memset(packet, 0, sizeof(*packet));
}

void tvc_encoder_close(TvcEncoder** encoder) {
  if (!encoder) return;
  free_encoder(*encoder);
  *encoder = nullptr;
}

}  // extern "C"
