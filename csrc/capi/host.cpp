// Starting or joining the Python interpreter that runs the codec, and the glue every
// context shares: the log sink, error results. See docs/capi.md ("What runs where").
#include "host.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <mutex>
#include <string>

#include "tvc_capi_config.h"

namespace tvc_capi {
namespace {

std::once_flag g_once;
int g_status = TVC_EINTERNAL;
std::string g_error;
PyObject* g_module = nullptr;  // tvc_ffmpeg.capi_host, kept for the life of the process

// The site-packages directory this libtvc was installed into: the library lives in
// <site-packages>/tvc_ffmpeg/lib/. Found from the library's own path, so an install
// that moved, or a host whose sys.path lacks it, still finds the package.
std::string own_site_dir() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&own_site_dir), &info) || !info.dli_fname) return {};
  std::string path = info.dli_fname;
  for (int up = 0; up < 3; ++up) {  // libtvc.so.N -> lib -> tvc_ffmpeg -> site-packages
    size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return {};
    path.resize(slash);
  }
  return path;
}

std::string describe_python_error() {
  PyObject *type = nullptr, *value = nullptr, *trace = nullptr;
  PyErr_Fetch(&type, &value, &trace);
  PyErr_NormalizeException(&type, &value, &trace);
  std::string text = "unknown Python error";
  if (value) {
    Ref s(PyObject_Str(value));
    Ref name(type ? PyObject_GetAttrString(type, "__name__") : nullptr);
    const char* n = name ? PyUnicode_AsUTF8(name.get()) : nullptr;
    const char* m = s ? PyUnicode_AsUTF8(s.get()) : nullptr;
    text = std::string(n ? n : "Exception") + ": " + (m ? m : "");
  }
  PyErr_Clear();
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(trace);
  return text;
}

// Python with the embedding process's needs: no PYTHON* environment variables, no user
// site, no signal handlers (ffmpeg keeps its own Ctrl-C), but site-packages and their .pth
// files (editable installs) of the interpreter the package was built for.
int start_interpreter() {
  PyConfig config;
  PyConfig_InitIsolatedConfig(&config);
  config.site_import = 1;
  config.install_signal_handlers = 0;
  PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, TVC_PYTHON_EXECUTABLE);
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    g_error = std::string("cannot start the embedded Python (") + TVC_PYTHON_EXECUTABLE + "): " +
              (status.err_msg ? status.err_msg : "unknown reason");
    return TVC_EINTERNAL;
  }
  return TVC_OK;
}

bool add_site_dir(const std::string& dir) {
  if (dir.empty()) return false;
  Ref site(PyImport_ImportModule("site"));
  Ref done(site ? PyObject_CallMethod(site.get(), "addsitedir", "s", dir.c_str()) : nullptr);
  if (!done) PyErr_Clear();
  return static_cast<bool>(done);
}

// With the GIL held: imports the host module (adding libtvc's own site-packages when
// the interpreter's path does not reach it).
int import_host(bool embedded) {
  const std::string site_dir = own_site_dir();
  if (embedded) add_site_dir(site_dir);
  g_module = PyImport_ImportModule("tvc_ffmpeg.capi_host");
  if (!g_module && !embedded) {
    PyErr_Clear();
    if (add_site_dir(site_dir)) g_module = PyImport_ImportModule("tvc_ffmpeg.capi_host");
  }
  if (!g_module) {
    g_error = "cannot import tvc_ffmpeg (looked in the Python of " + std::string(TVC_PYTHON_EXECUTABLE) +
              " and in " + (site_dir.empty() ? "?" : site_dir) + "): " + describe_python_error();
    return TVC_EINTERNAL;
  }
  if (embedded) {
    Ref done(PyObject_CallMethod(g_module, "embedded", nullptr));
    if (!done) {
      g_error = "tvc_ffmpeg.capi_host.embedded() failed: " + describe_python_error();
      return TVC_EINTERNAL;
    }
  }
  return TVC_OK;
}

void initialise() {
  if (Py_IsInitialized()) {
    // A Python process (PyAV, ctypes): join its interpreter, one call at a time.
    Gil gil;
    g_status = import_host(false);
    return;
  }
  g_status = start_interpreter();
  if (g_status != TVC_OK) return;
  g_status = import_host(true);
  // Give the GIL away for good: every later call, from any thread, takes it per call.
  PyEval_SaveThread();
}

struct LogTarget {
  tvc_log_callback callback;
  void* opaque;
};

const char* const kSinkCapsule = "tvc.log_target";

void free_target(PyObject* capsule) {
  delete static_cast<LogTarget*>(PyCapsule_GetPointer(capsule, kSinkCapsule));
}

PyObject* sink_call(PyObject* self, PyObject* args) {
  int level = TVC_LOG_INFO;
  const char* message = nullptr;
  if (!PyArg_ParseTuple(args, "is", &level, &message)) return nullptr;
  auto* target = static_cast<LogTarget*>(PyCapsule_GetPointer(self, kSinkCapsule));
  if (!target) return nullptr;
  tvc_log_callback callback = target->callback;
  void* opaque = target->opaque;
  // The callback is C code that may block (av_log to a slow terminal): not under the GIL.
  Py_BEGIN_ALLOW_THREADS
  log_line(callback, opaque, TVC_LOG_DEBUG, level, message);
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

PyMethodDef g_sink_def = {"tvc_log_sink", sink_call, METH_VARARGS,
                          "sink(level, message): one log line to libtvc's log callback"};

}  // namespace

int ensure_host(tvc_log_callback callback, void* opaque, int log_level) {
  std::call_once(g_once, initialise);
  if (g_status != TVC_OK) log_line(callback, opaque, log_level, TVC_LOG_ERROR, g_error.c_str());
  return g_status;
}

PyObject* host_module() { return g_module; }

PyObject* make_sink(tvc_log_callback callback, void* opaque) {
  auto* target = new LogTarget{callback, opaque};
  PyObject* capsule = PyCapsule_New(target, kSinkCapsule, free_target);
  if (!capsule) {
    delete target;
    return nullptr;
  }
  PyObject* sink = PyCFunction_New(&g_sink_def, capsule);
  Py_DECREF(capsule);  // the function holds it
  return sink;
}

void log_line(tvc_log_callback callback, void* opaque, int log_level, int level, const char* message) {
  if (level > log_level) return;
  if (callback) {
    callback(opaque, level, message);
    return;
  }
  static const char* const names[] = {"error", "warning", "info", "debug"};
  const char* name = (level >= 0 && level <= 3) ? names[level] : "log";
  std::fprintf(stderr, "[tvc %s] %s\n", name, message);
}

int result_code(PyObject* result, PyObject* sink) {
  if (result == nullptr) {
    // Only a failure of the guard itself gets here; capi_host.report keeps the one table.
    PyObject *type = nullptr, *value = nullptr, *trace = nullptr;
    PyErr_Fetch(&type, &value, &trace);
    PyErr_NormalizeException(&type, &value, &trace);
    int code = TVC_EINTERNAL;
    Ref reported(g_module && value ? PyObject_CallMethod(g_module, "report", "OOO", Py_None,
                                                         sink ? sink : Py_None, value)
                                   : nullptr);
    if (reported && PyLong_Check(reported.get())) code = static_cast<int>(PyLong_AsLong(reported.get()));
    PyErr_Clear();
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(trace);
    return code;
  }
  if (PyLong_Check(result)) {
    long code = PyLong_AsLong(result);
    if (code > 0 || code < TVC_EINTERNAL) return TVC_EINTERNAL;  // not a tvc_error: a host bug
    return static_cast<int>(code);
  }
  return TVC_OK;
}

}  // namespace tvc_capi
