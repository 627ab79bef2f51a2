// Error handling inside the C++ core.
//
// The core reports every failure as a tvc::Error carrying one of the public
// tvc_error codes from tvc.h, so the C API, the Python bindings and the FFmpeg
// wrapper all translate from the same small set of codes.
#pragma once

#include <stdexcept>
#include <string>

#include "tvc/tvc.h"

namespace tvc {

class Error : public std::runtime_error {
 public:
  Error(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

[[noreturn]] inline void fail(int code, const std::string& message) { throw Error(code, message); }

}  // namespace tvc
