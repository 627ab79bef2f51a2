// The embedded-interpreter side of libtvc: starting (or joining) Python, taking the
// GIL per call, and turning the results of python/tvc_ffmpeg/capi_host.py into
// tvc_error codes. encoder.cpp and decoder.cpp are thin over this.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "tvc/tvc.h"

namespace tvc_capi {

// Holds the GIL for a scope, from any thread (the interpreter must be started).
class Gil {
 public:
  Gil() : state_(PyGILState_Ensure()) {}
  ~Gil() { PyGILState_Release(state_); }
  Gil(const Gil&) = delete;
  Gil& operator=(const Gil&) = delete;

 private:
  PyGILState_STATE state_;
};

// Owns one reference (Py_XDECREF on scope exit; call with the GIL held).
class Ref {
 public:
  explicit Ref(PyObject* o = nullptr) : o_(o) {}
  ~Ref() { Py_XDECREF(o_); }
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  PyObject* get() const { return o_; }
  PyObject* release() {
    PyObject* o = o_;
    o_ = nullptr;
    return o;
  }
  explicit operator bool() const { return o_ != nullptr; }

 private:
  PyObject* o_;
};

// Starts Python when the process has none (and releases the GIL afterwards), imports
// tvc_ffmpeg.capi_host once. Thread-safe; the outcome of the first call is kept.
// Failures are logged to (callback, opaque) and returned as a tvc_error.
int ensure_host(tvc_log_callback callback, void* opaque, int log_level);

// The tvc_ffmpeg.capi_host module (borrowed; valid after ensure_host succeeded).
PyObject* host_module();

// A Python callable sink(level, message) that forwards to the C callback (NULL callback:
// stderr). Needs the GIL.
PyObject* make_sink(tvc_log_callback callback, void* opaque);

// Writes one log line through the C callback (NULL: stderr), honouring log_level.
void log_line(tvc_log_callback callback, void* opaque, int log_level, int level, const char* message);

// The code of an entry point's result (the GIL held; steals nothing): NULL means an
// exception escaped capi_host's guard (mapped by capi_host.report, logged to sink); an
// int is a code (0 or negative); any other object is a result and gives TVC_OK.
int result_code(PyObject* result, PyObject* sink);

}  // namespace tvc_capi
