// tvc_ffmpeg._native: thin pybind11 bindings over the C++ core.
//
// Arrays come in as numpy buffers (no nested lists), heavy loops run with the
// GIL released, and every tvc::Error becomes the Python exception class that
// tvc_ffmpeg.errors maps its code to (one table, in Python).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/bitstream.hpp"
#include "../core/ccm.hpp"
#include "../core/continuous.hpp"
#include "../core/intnet.hpp"
#include "../core/mask.hpp"
#include "../core/cdf.hpp"
#include "../core/crc32.hpp"
#include "../core/rans.hpp"
#include "../core/status.hpp"
#include "tvc/tvc.h"

namespace py = pybind11;
using tvc::fail;

namespace {

using I32Array = py::array_t<int32_t, py::array::c_style>;
using U32Array = py::array_t<uint32_t, py::array::c_style>;

// Any integer array -> C-contiguous array of T, refusing floats and values that
// do not fit (numpy's astype would wrap them silently).
template <typename T>
py::array_t<T, py::array::c_style> as_int_array(const py::array& a, const char* name) {
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u' && kind != 'b')
    fail(TVC_EINVAL, std::string(name) + " must be an integer array, got dtype " +
                         std::string(py::str(a.dtype())));
  if (py::isinstance<py::array_t<T, py::array::c_style>>(a))
    return py::reinterpret_borrow<py::array_t<T, py::array::c_style>>(a);
  if (a.size() > 0) {
    const py::object lo = a.attr("min")(), hi = a.attr("max")();
    if (lo < py::int_(std::numeric_limits<T>::min()) || hi > py::int_(std::numeric_limits<T>::max()))
      fail(TVC_EINVAL, std::string(name) + " has values outside the " +
                           (std::numeric_limits<T>::is_signed ? "int32" : "uint32") + " range");
  }
  return py::array_t<T, py::array::c_style>::ensure(a.attr("astype")(py::dtype::of<T>()));
}

// Checks that `a` is (count, n) [+ extra columns] and returns n.
std::size_t row_width(const py::array& a, std::size_t count, const char* name, std::size_t extra) {
  if (a.ndim() != 2 || static_cast<std::size_t>(a.shape(0)) != count)
    fail(TVC_EINVAL, std::string(name) + " must have shape (count, alphabet" +
                         (extra ? " + 1" : "") + ") with one row per symbol");
  const std::size_t w = static_cast<std::size_t>(a.shape(1));
  if (w < 1 + extra) fail(TVC_EINVAL, std::string(name) + " rows are too short");
  return w - extra;
}

py::bytes to_bytes(const std::vector<uint8_t>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

std::string as_string(const py::bytes& b) { return std::string(b); }

// ---------------------------------------------------------------- bitstream fields
//
// The one list of each stream structure's fields outside its byte layout: a
// table of (name, getter, setter) that turns a struct into a dict and a dict
// into a struct. The module exports the names in order and the defaults, and
// bitstream.py builds its dataclasses from them, so a new field is written in
// the struct, its writer and parser (bitstream.cpp), and one row here.

template <typename T>
struct Field {
  const char* name;
  bool required;  // no meaningful default: Python callers must give it
  std::function<py::object(const T&)> get;
  std::function<void(T&, const py::handle&)> set;
};

[[noreturn]] void bad_field(const char* owner, const char* name, const std::string& expected,
                            const py::handle& v) {
  fail(TVC_EINVAL, std::string(owner) + "." + name + " must be " + expected + ", got " +
                       std::string(py::repr(v)));
}

template <typename M>
std::string describe_type() {
  if constexpr (std::is_same_v<M, std::string>) {
    return "a str";
  } else {
    return "an integer " + std::to_string(std::numeric_limits<M>::min()) + ".." +
           std::to_string(std::numeric_limits<M>::max());
  }
}

// A value of exactly type M (pybind11 refuses floats and values out of range).
template <typename M>
M field_value(const char* owner, const char* name, const py::handle& v) {
  try {
    return v.cast<M>();
  } catch (const py::cast_error&) {
    bad_field(owner, name, describe_type<M>(), v);
  }
}

template <typename T, typename M>
Field<T> member(const char* owner, const char* name, M T::*m, bool required = false) {
  return {name, required, [m](const T& s) { return py::cast(s.*m); },
          [owner, name, m](T& s, const py::handle& v) { s.*m = field_value<M>(owner, name, v); }};
}

template <typename T>
Field<T> rational(const char* owner, const char* name, tvc::Rational T::*m) {
  return {name, false,
          [m](const T& s) { return py::object(py::make_tuple((s.*m).num, (s.*m).den)); },
          [owner, name, m](T& s, const py::handle& v) {
            const char* expected = "a (num, den) pair of integers 0..4294967295";
            if (!py::isinstance<py::sequence>(v) || py::isinstance<py::str>(v) || py::len(v) != 2)
              bad_field(owner, name, expected, v);
            const py::sequence pair = py::reinterpret_borrow<py::sequence>(v);
            try {
              s.*m = tvc::Rational{pair[0].cast<uint32_t>(), pair[1].cast<uint32_t>()};
            } catch (const py::cast_error&) {
              bad_field(owner, name, expected, v);
            }
          }};
}

const std::vector<Field<tvc::SequenceHeader>>& sequence_header_fields() {
  using H = tvc::SequenceHeader;
  constexpr const char* kOwner = "SequenceHeader";
  // Order: the Python constructor's (the fields a caller must give come first).
  static const std::vector<Field<H>> table = {
      member(kOwner, "model_id", &H::model_id, true),
      {"weights_sha256", true,
       [](const H& h) {
         return py::object(py::bytes(reinterpret_cast<const char*>(h.weights_sha256.data()),
                                     h.weights_sha256.size()));
       },
       [](H& h, const py::handle& v) {
         if (!py::isinstance<py::bytes>(v) || py::len(v) != h.weights_sha256.size())
           bad_field(kOwner, "weights_sha256", "32 bytes", v);
         const std::string sha = as_string(py::reinterpret_borrow<py::bytes>(v));
         std::copy(sha.begin(), sha.end(), h.weights_sha256.begin());
       }},
      member(kOwner, "width", &H::width, true),
      member(kOwner, "height", &H::height, true),
      member(kOwner, "gop_length", &H::gop_length, true),
      rational(kOwner, "frame_rate", &H::frame_rate),
      rational(kOwner, "time_base", &H::time_base),
      rational(kOwner, "sample_aspect_ratio", &H::sample_aspect_ratio),
      member(kOwner, "color_primaries", &H::color_primaries),
      member(kOwner, "color_trc", &H::color_trc),
      member(kOwner, "colorspace", &H::colorspace),
      member(kOwner, "color_range", &H::color_range),
      member(kOwner, "chroma_format", &H::chroma_format),
      member(kOwner, "bit_depth", &H::bit_depth),
      member(kOwner, "flags", &H::flags),
      member(kOwner, "version_major", &H::version_major),
      member(kOwner, "version_minor", &H::version_minor),
  };
  return table;
}

const std::vector<Field<tvc::GopPacket>>& gop_packet_fields() {
  using P = tvc::GopPacket;
  constexpr const char* kOwner = "GopPacket";
  static const std::vector<Field<P>> table = {
      member(kOwner, "gop_index", &P::gop_index, true),
      member(kOwner, "frame_count", &P::frame_count, true),
      member(kOwner, "first_pts", &P::first_pts),
      member(kOwner, "quality", &P::quality),
      member(kOwner, "mask_pattern", &P::mask_pattern),
      member(kOwner, "continuous_step", &P::continuous_step),
      member(kOwner, "coded_width", &P::coded_width),
      member(kOwner, "coded_height", &P::coded_height),
      member(kOwner, "flags", &P::flags),
      {"substreams", false,
       [](const P& p) {
         py::tuple subs(p.substreams.size());
         for (std::size_t i = 0; i < p.substreams.size(); ++i)
           subs[i] = py::make_tuple(p.substreams[i].kind, to_bytes(p.substreams[i].payload));
         return py::object(subs);
       },
       [](P& p, const py::handle& v) {
         const char* expected = "a sequence of (kind 0..255, payload bytes) pairs";
         if (!py::isinstance<py::sequence>(v) || py::isinstance<py::str>(v) || py::isinstance<py::bytes>(v))
           bad_field(kOwner, "substreams", expected, v);
         p.substreams.clear();
         for (const auto& item : py::reinterpret_borrow<py::sequence>(v)) {
           if (!py::isinstance<py::sequence>(item) || py::len(item) != 2) bad_field(kOwner, "substreams", expected, v);
           const py::sequence pair = py::reinterpret_borrow<py::sequence>(item);
           if (!py::isinstance<py::bytes>(pair[1])) bad_field(kOwner, "substreams", expected, v);
           tvc::Substream s;
           s.kind = field_value<uint8_t>(kOwner, "substreams kind", pair[0]);
           const std::string payload = as_string(py::reinterpret_borrow<py::bytes>(pair[1]));
           s.payload.assign(payload.begin(), payload.end());
           p.substreams.push_back(std::move(s));
         }
       }},
  };
  return table;
}

const std::vector<Field<tvc::EndOfStream>>& end_of_stream_fields() {
  using E = tvc::EndOfStream;
  constexpr const char* kOwner = "EndOfStream";
  static const std::vector<Field<E>> table = {
      member(kOwner, "gop_count", &E::gop_count, true),
      member(kOwner, "frame_count", &E::frame_count, true),
  };
  return table;
}

template <typename T>
py::dict to_dict(const T& s, const std::vector<Field<T>>& table) {
  py::dict d;
  for (const auto& f : table) d[f.name] = f.get(s);
  return d;
}

// Every field must be given, and nothing else: a misspelt key fails instead of
// leaving a field at its default.
template <typename T>
T from_dict(const py::handle& obj, const std::vector<Field<T>>& table, const char* owner) {
  if (!py::isinstance<py::dict>(obj)) fail(TVC_EINVAL, std::string(owner) + " fields must be a dict");
  const py::dict d = py::reinterpret_borrow<py::dict>(obj);
  T s;
  for (const auto& f : table) {
    if (!d.contains(f.name)) fail(TVC_EINVAL, std::string(owner) + " field " + f.name + " is missing");
    f.set(s, d[f.name]);
  }
  if (d.size() != table.size()) {
    for (const auto& item : d) {
      const std::string key = py::str(item.first);
      bool known = false;
      for (const auto& f : table) known = known || key == f.name;
      if (!known) fail(TVC_EINVAL, std::string(owner) + " has no field " + key);
    }
  }
  return s;
}

template <typename T>
py::tuple field_names(const std::vector<Field<T>>& table) {
  py::tuple names(table.size());
  for (std::size_t i = 0; i < table.size(); ++i) names[i] = py::str(table[i].name);
  return names;
}

// The values of a default-constructed struct, for the fields a caller may omit.
template <typename T>
py::dict field_defaults(const std::vector<Field<T>>& table) {
  const T s{};
  py::dict d;
  for (const auto& f : table)
    if (!f.required) d[f.name] = f.get(s);
  return d;
}

const tvc::SequenceHeader* optional_header(const py::object& header, tvc::SequenceHeader& storage) {
  if (header.is_none()) return nullptr;
  storage = from_dict(header, sequence_header_fields(), "SequenceHeader");
  return &storage;
}

// Bytes-like view that keeps the Python object alive while we read it.
struct BytesView {
  py::buffer_info info;
  explicit BytesView(const py::buffer& b) : info(b.request()) {
    if (info.ndim != 1 || info.itemsize != 1 || info.strides[0] != 1)
      fail(TVC_EINVAL, "expected a contiguous bytes-like object");
  }
  const uint8_t* data() const { return static_cast<const uint8_t*>(info.ptr); }
  std::size_t size() const { return static_cast<std::size_t>(info.size); }
};

// ---------------------------------------------------------------- coder wrappers

class PyRansDecoder {
 public:
  PyRansDecoder(const py::buffer& data, int precision) {
    BytesView v(data);
    data_.assign(v.data(), v.data() + v.size());
    dec_ = std::make_unique<tvc::RansDecoder>(data_.data(), data_.size(), precision);
  }
  tvc::RansDecoder& get() { return *dec_; }

 private:
  std::vector<uint8_t> data_;  // owned copy: the decoder points into it
  std::unique_ptr<tvc::RansDecoder> dec_;
};

tvc::CdfTable make_table(const py::array& cdfs_in, const py::array& sizes_in,
                         const py::array& offsets_in, int precision, bool escape) {
  auto cdfs = as_int_array<int32_t>(cdfs_in, "cdfs");
  auto sizes = as_int_array<int32_t>(sizes_in, "sizes");
  auto offsets = as_int_array<int32_t>(offsets_in, "offsets");
  if (cdfs.ndim() != 2) fail(TVC_EINVAL, "cdfs must be a 2-D array (tables x entries)");
  const std::size_t t = static_cast<std::size_t>(cdfs.shape(0));
  if (static_cast<std::size_t>(sizes.size()) != t || static_cast<std::size_t>(offsets.size()) != t)
    fail(TVC_EINVAL, "sizes and offsets need one entry per CDF");
  return tvc::CdfTable(cdfs.data(), t, static_cast<std::size_t>(cdfs.shape(1)), sizes.data(),
                       offsets.data(), precision, escape);
}

// (t, h, w, d) of a C-contiguous int32 digit array.
std::array<int, 4> grid_shape(const py::array_t<int32_t, py::array::c_style>& a, int dims) {
  if (a.ndim() != 4 || a.shape(3) != dims)
    fail(TVC_EINVAL, "digits must have shape (frames, height, width, " + std::to_string(dims) + ")");
  return {static_cast<int>(a.shape(0)), static_cast<int>(a.shape(1)), static_cast<int>(a.shape(2)), dims};
}


// ---------------------------------------------------------------- continuous CCM helpers

// (t, h, w) of a C-contiguous (channels, t, h, w) int32 array.
std::array<int, 3> latent_shape(const I32Array& a, int channels, const char* name) {
  if (a.ndim() != 4 || a.shape(0) != channels)
    fail(TVC_EINVAL, std::string(name) + " must have shape (" + std::to_string(channels) +
                         ", frames, height, width)");
  for (int k = 1; k < 4; ++k)
    if (a.shape(k) < 1 || a.shape(k) > std::numeric_limits<int>::max())
      fail(TVC_EINVAL, std::string(name) + " sizes must be positive");
  return {static_cast<int>(a.shape(1)), static_cast<int>(a.shape(2)), static_cast<int>(a.shape(3))};
}

// The caller's context planes (Q, t, h, w) as int32; None stands for Q = 0.
I32Array continuous_context(const tvc::ContinuousCheckerboardCoder& c, const py::object& ctx, int t, int h,
                            int w) {
  if (ctx.is_none()) {
    if (c.context_planes() != 0)
      fail(TVC_EINVAL, "this coder needs " + std::to_string(c.context_planes()) + " context planes");
    return I32Array(std::vector<py::ssize_t>{0, t, h, w});
  }
  I32Array a = as_int_array<int32_t>(py::array::ensure(ctx), "context");
  if (a.ndim() != 4 || a.shape(0) != c.context_planes() || a.shape(1) != t || a.shape(2) != h || a.shape(3) != w)
    fail(TVC_EINVAL, "context must have shape (" + std::to_string(c.context_planes()) + ", " + std::to_string(t) +
                         ", " + std::to_string(h) + ", " + std::to_string(w) + ")");
  return a;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "TVC native core: rANS entropy coder, integer CDFs, bitstream. Private: use tvc_ffmpeg.";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const tvc::Error& e) {
      py::object cls = py::module_::import("tvc_ffmpeg.errors").attr("error_class")(e.code());
      PyErr_SetObject(cls.ptr(), py::str(e.what()).ptr());
    }
  });

  m.attr("MAX_PRECISION") = tvc::kMaxPrecision;
  m.attr("LOGIT_FRAC_BITS") = tvc::kLogitFracBits;
  m.attr("BITSTREAM_VERSION") = py::make_tuple(tvc::kVersionMajor, tvc::kVersionMinor);
  m.attr("FILE_SIGNATURE") = py::bytes(reinterpret_cast<const char*>(tvc::kFileSignature),
                                       tvc::kSignatureSize);

  m.def("version", &tvc_version, "Library version string.");
  m.def("strerror", &tvc_strerror, py::arg("code"), "Fixed description of a tvc_error code.");
  m.def("crc32", [](const py::buffer& b) {
    BytesView v(b);
    return tvc::crc32(v.data(), v.size());
  }, py::arg("data"));

  // ------------------------------------------------------------ CDF helpers
  m.def("pmf_to_cdf", [](const py::array& counts_in, int precision) {
    auto counts = as_int_array<uint32_t>(counts_in, "counts");
    if (counts.ndim() < 1) fail(TVC_EINVAL, "counts needs at least one dimension");
    const std::size_t n = static_cast<std::size_t>(counts.shape(counts.ndim() - 1));
    tvc::check_alphabet(n, precision);
    std::vector<py::ssize_t> shape(counts.shape(), counts.shape() + counts.ndim());
    shape.back() = static_cast<py::ssize_t>(n + 1);
    py::array_t<int32_t> out(shape);
    const std::size_t rows = static_cast<std::size_t>(counts.size()) / n;
    const uint32_t* in = counts.data();
    int32_t* o = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      for (std::size_t r = 0; r < rows; ++r) tvc::pmf_to_cdf(in + r * n, n, precision, o + r * (n + 1));
    }
    return out;
  }, py::arg("counts"), py::arg("precision") = 16,
     "Counts (..., n) -> CDFs (..., n + 1), every symbol kept nonzero; integer-only.");

  m.def("logits_to_cdf", [](const py::array& logits_in, int precision) {
    auto logits = as_int_array<int32_t>(logits_in, "logits");
    if (logits.ndim() < 1) fail(TVC_EINVAL, "logits needs at least one dimension");
    const std::size_t n = static_cast<std::size_t>(logits.shape(logits.ndim() - 1));
    tvc::check_alphabet(n, precision);
    std::vector<py::ssize_t> shape(logits.shape(), logits.shape() + logits.ndim());
    shape.back() = static_cast<py::ssize_t>(n + 1);
    py::array_t<int32_t> out(shape);
    const std::size_t rows = static_cast<std::size_t>(logits.size()) / n;
    const int32_t* in = logits.data();
    int32_t* o = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      std::vector<uint32_t> scratch(n);
      for (std::size_t r = 0; r < rows; ++r)
        tvc::logits_to_cdf(in + r * n, n, precision, o + r * (n + 1), scratch.data());
    }
    return out;
  }, py::arg("logits"), py::arg("precision") = 16,
     "Integer logits (..., n), 1 LSB = 1/16 nat -> CDFs (..., n + 1); integer-only.");

  // ------------------------------------------------------------ coder
  py::class_<tvc::CdfTable>(m, "CdfTable")
      .def(py::init(&make_table), py::arg("cdfs"), py::arg("sizes"), py::arg("offsets"),
           py::arg("precision") = 16, py::arg("escape") = false)
      .def_property_readonly("num_tables", &tvc::CdfTable::num_tables)
      .def_property_readonly("precision", &tvc::CdfTable::precision)
      .def_property_readonly("escape", &tvc::CdfTable::escape);

  py::class_<tvc::RansEncoder>(m, "RansEncoder")
      .def(py::init<int>(), py::arg("precision") = 16)
      .def_property_readonly("precision", &tvc::RansEncoder::precision)
      .def_property_readonly("pending", &tvc::RansEncoder::pending)
      .def("encode_indexed", [](tvc::RansEncoder& e, const py::array& v_in, const py::array& i_in,
                                const tvc::CdfTable& table) {
        auto v = as_int_array<int32_t>(v_in, "values");
        auto i = as_int_array<int32_t>(i_in, "indexes");
        if (v.size() != i.size()) fail(TVC_EINVAL, "values and indexes differ in size");
        py::gil_scoped_release nogil;
        e.encode_indexed(v.data(), i.data(), static_cast<std::size_t>(v.size()), table);
      }, py::arg("values"), py::arg("indexes"), py::arg("table"))
      .def("encode_cdfs", [](tvc::RansEncoder& e, const py::array& s_in, const py::array& c_in) {
        auto s = as_int_array<int32_t>(s_in, "symbols");
        auto c = as_int_array<int32_t>(c_in, "cdfs");
        const std::size_t n = row_width(c, static_cast<std::size_t>(s.size()), "cdfs", 1);
        py::gil_scoped_release nogil;
        e.encode_cdfs(s.data(), c.data(), static_cast<std::size_t>(s.size()), n);
      }, py::arg("symbols"), py::arg("cdfs"))
      .def("encode_counts", [](tvc::RansEncoder& e, const py::array& s_in, const py::array& c_in) {
        auto s = as_int_array<int32_t>(s_in, "symbols");
        auto c = as_int_array<uint32_t>(c_in, "counts");
        const std::size_t n = row_width(c, static_cast<std::size_t>(s.size()), "counts", 0);
        py::gil_scoped_release nogil;
        e.encode_counts(s.data(), c.data(), static_cast<std::size_t>(s.size()), n);
      }, py::arg("symbols"), py::arg("counts"))
      .def("encode_logits", [](tvc::RansEncoder& e, const py::array& s_in, const py::array& l_in) {
        auto s = as_int_array<int32_t>(s_in, "symbols");
        auto l = as_int_array<int32_t>(l_in, "logits");
        const std::size_t n = row_width(l, static_cast<std::size_t>(s.size()), "logits", 0);
        py::gil_scoped_release nogil;
        e.encode_logits(s.data(), l.data(), static_cast<std::size_t>(s.size()), n);
      }, py::arg("symbols"), py::arg("logits"))
      .def("encode_bits", [](tvc::RansEncoder& e, const py::array& v_in, int nbits) {
        auto v = as_int_array<uint32_t>(v_in, "values");
        if (nbits < 0 || nbits > 32) fail(TVC_EINVAL, "nbits must be 0..32");
        const uint32_t* p = v.data();
        const uint64_t limit = uint64_t{1} << nbits;
        for (py::ssize_t k = 0; k < v.size(); ++k)
          if (p[k] >= limit) fail(TVC_EINVAL, "value does not fit in nbits at position " + std::to_string(k));
        py::gil_scoped_release nogil;
        for (py::ssize_t k = 0; k < v.size(); ++k) e.put_bits(p[k], nbits);
      }, py::arg("values"), py::arg("nbits"))
      .def("finish", [](tvc::RansEncoder& e) {
        std::vector<uint8_t> out;
        {
          py::gil_scoped_release nogil;
          out = e.finish();
        }
        return to_bytes(out);
      }, "Codes everything given so far and returns the stream; the encoder is then empty.");

  py::class_<PyRansDecoder>(m, "RansDecoder")
      .def(py::init<const py::buffer&, int>(), py::arg("data"), py::arg("precision") = 16)
      .def_property_readonly("bytes_left", [](PyRansDecoder& d) { return d.get().bytes_left(); })
      .def("decode_indexed", [](PyRansDecoder& d, const py::array& i_in, const tvc::CdfTable& table) {
        auto i = as_int_array<int32_t>(i_in, "indexes");
        py::array_t<int32_t> out(i.size());
        int32_t* o = out.mutable_data();
        py::gil_scoped_release nogil;
        d.get().decode_indexed(i.data(), static_cast<std::size_t>(i.size()), table, o);
        return out;
      }, py::arg("indexes"), py::arg("table"))
      .def("decode_cdfs", [](PyRansDecoder& d, const py::array& c_in) {
        auto c = as_int_array<int32_t>(c_in, "cdfs");
        if (c.ndim() != 2) fail(TVC_EINVAL, "cdfs must have shape (count, alphabet + 1)");
        const std::size_t count = static_cast<std::size_t>(c.shape(0));
        const std::size_t n = row_width(c, count, "cdfs", 1);
        py::array_t<int32_t> out(static_cast<py::ssize_t>(count));
        int32_t* o = out.mutable_data();
        py::gil_scoped_release nogil;
        d.get().decode_cdfs(c.data(), count, n, o);
        return out;
      }, py::arg("cdfs"))
      .def("decode_counts", [](PyRansDecoder& d, const py::array& c_in) {
        auto c = as_int_array<uint32_t>(c_in, "counts");
        if (c.ndim() != 2) fail(TVC_EINVAL, "counts must have shape (count, alphabet)");
        const std::size_t count = static_cast<std::size_t>(c.shape(0));
        const std::size_t n = row_width(c, count, "counts", 0);
        py::array_t<int32_t> out(static_cast<py::ssize_t>(count));
        int32_t* o = out.mutable_data();
        py::gil_scoped_release nogil;
        d.get().decode_counts(c.data(), count, n, o);
        return out;
      }, py::arg("counts"))
      .def("decode_logits", [](PyRansDecoder& d, const py::array& l_in) {
        auto l = as_int_array<int32_t>(l_in, "logits");
        if (l.ndim() != 2) fail(TVC_EINVAL, "logits must have shape (count, alphabet)");
        const std::size_t count = static_cast<std::size_t>(l.shape(0));
        const std::size_t n = row_width(l, count, "logits", 0);
        py::array_t<int32_t> out(static_cast<py::ssize_t>(count));
        int32_t* o = out.mutable_data();
        py::gil_scoped_release nogil;
        d.get().decode_logits(l.data(), count, n, o);
        return out;
      }, py::arg("logits"))
      .def("decode_bits", [](PyRansDecoder& d, std::size_t count, int nbits) {
        if (nbits < 0 || nbits > 32) fail(TVC_EINVAL, "nbits must be 0..32");
        py::array_t<uint32_t> out(static_cast<py::ssize_t>(count));
        uint32_t* o = out.mutable_data();
        py::gil_scoped_release nogil;
        for (std::size_t k = 0; k < count; ++k) o[k] = d.get().get_bits(nbits);
        return out;
      }, py::arg("count"), py::arg("nbits"))
      .def("finish", [](PyRansDecoder& d) { d.get().finish(); },
           "Raises InvalidDataError unless the stream ended exactly after the last symbol.");

  // ------------------------------------------------------------ context models
  m.def("int_net_forward", [](const py::buffer& blob, const py::array& planes_in) {
    BytesView v(blob);
    // Either last layer: a whole net (logits) or a CCM v2 trunk (hidden features).
    const tvc::IntNet net = tvc::IntNet::parse(v.data(), v.size(), tvc::IntNet::LastLayer::kEither);
    auto planes = as_int_array<int32_t>(planes_in, "planes");
    if (planes.ndim() != 3 || planes.shape(0) != net.in_channels())
      fail(TVC_EINVAL, "planes must have shape (" + std::to_string(net.in_channels()) + ", height, width)");
    const int h = static_cast<int>(planes.shape(1)), w = static_cast<int>(planes.shape(2));
    py::array_t<int32_t> out({static_cast<py::ssize_t>(net.out_channels()), planes.shape(1), planes.shape(2)});
    int32_t* o = out.mutable_data();
    py::gil_scoped_release nogil;
    net.run(planes.data(), h, w, o);
    return out;
  }, py::arg("blob"), py::arg("planes"),
     "Runs an integer network blob (docs/ccm.md; its last layer may output logits or hidden "
     "features, as a CCM v2 trunk) on (channels, height, width) int32 planes.");

  m.attr("NUM_MASK_PATTERNS") = tvc::kNumMaskPatterns;
  m.def("mask_keep", [](int pattern, int t, int h, int w) {
    if (!tvc::valid_mask_pattern(pattern)) fail(TVC_EINVAL, "unknown token mask pattern " + std::to_string(pattern));
    tvc::check_token_grid(t, h, w);
    py::array_t<bool> out({t, h, w});
    bool* o = out.mutable_data();
    for (int f = 0; f < t; ++f)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) *o++ = tvc::token_kept(pattern, f, y, x);
    return out;
  }, py::arg("pattern"), py::arg("frames"), py::arg("height"), py::arg("width"),
     "Which tokens of a (frames, height, width) grid a mask pattern keeps (mask.hpp).");

  py::class_<tvc::CheckerboardCoder>(m, "CheckerboardCoder")
      .def(py::init([](const py::buffer& blob, const std::vector<int>& levels) {
        BytesView v(blob);
        return tvc::CheckerboardCoder::parse(v.data(), v.size(), levels);
      }), py::arg("blob"), py::arg("levels"),
         "A CCM model blob (docs/ccm.md): a bare TVCN integer net (v1) or a TVCM v2 container.")
      .def_property_readonly("context_channels", &tvc::CheckerboardCoder::context_channels)
      .def_property_readonly("prev_frames", &tvc::CheckerboardCoder::prev_frames,
                             "Previous latent frames in the context (1 or 2).")
      .def_property_readonly("digit_heads", &tvc::CheckerboardCoder::digit_heads,
                             "Whether each digit has a head conditioned on the token's earlier digits.")
      .def("encode", [](const tvc::CheckerboardCoder& c, const py::array& digits_in, int pattern) {
        auto digits = as_int_array<int32_t>(digits_in, "digits");
        const auto s = grid_shape(digits, c.dims());
        std::vector<uint8_t> out;
        {
          py::gil_scoped_release nogil;
          tvc::RansEncoder enc(16);
          c.encode(digits.data(), s[0], s[1], s[2], pattern, enc);
          out = enc.finish();
        }
        return to_bytes(out);
      }, py::arg("digits"), py::arg("pattern") = 0,
         "Digits (frames, height, width, dims) -> rANS stream of the tokens the mask pattern keeps.")
      .def("decode", [](const tvc::CheckerboardCoder& c, const py::buffer& data, int t, int h, int w,
                        int pattern) {
        BytesView v(data);
        tvc::check_token_grid(t, h, w);  // before the allocation: the sizes come from a packet
        py::array_t<int32_t> out({t, h, w, c.dims()});
        int32_t* o = out.mutable_data();
        std::fill(o, o + out.size(), -1);
        {
          py::gil_scoped_release nogil;
          tvc::RansDecoder dec(v.data(), v.size(), 16);
          c.decode(dec, t, h, w, pattern, o);
          dec.finish();
        }
        return out;
      }, py::arg("data"), py::arg("frames"), py::arg("height"), py::arg("width"), py::arg("pattern") = 0,
         "rANS stream -> digits; positions the mask pattern drops are -1.")
      .def("context", [](const tvc::CheckerboardCoder& c, const py::array& digits_in, int f, int pass,
                         int pattern) {
        auto digits = as_int_array<int32_t>(digits_in, "digits");
        const auto s = grid_shape(digits, c.dims());
        if (f < 0 || f >= s[0] || (pass != 0 && pass != 1)) fail(TVC_EINVAL, "frame or pass out of range");
        if (!tvc::valid_mask_pattern(pattern)) fail(TVC_EINVAL, "unknown token mask pattern");
        py::array_t<int32_t> out({c.context_channels(), s[1], s[2]});
        c.context(digits.data(), f, pass, s[1], s[2], pattern, out.mutable_data());
        return out;
      }, py::arg("digits"), py::arg("frame"), py::arg("pass_index"), py::arg("pattern") = 0,
         "Context planes the coder uses for one frame and pass (for training and tests).");

  // ------------------------------------------------------------ continuous CCM
  m.attr("CONTINUOUS_NUM_SCALES") = tvc::kNumScales;
  m.attr("CONTINUOUS_MAX_VALUE") = tvc::kMaxLatentValue;
  m.def("continuous_laplace_tables", []() {
    const tvc::CdfTable& t = tvc::laplace_table();
    const auto n = static_cast<py::ssize_t>(t.num_tables());
    py::array_t<int32_t> cdfs({n, static_cast<py::ssize_t>(tvc::kLaplaceStride)});
    py::array_t<int32_t> sizes(n), offsets(n);
    py::array_t<uint32_t> ratios(n);
    std::fill(cdfs.mutable_data(), cdfs.mutable_data() + cdfs.size(), 0);
    for (py::ssize_t i = 0; i < n; ++i) {
      const auto k = static_cast<std::size_t>(i);
      std::copy_n(t.cdf(k), t.size(k) + 1, cdfs.mutable_data() + i * tvc::kLaplaceStride);
      sizes.mutable_data()[i] = t.size(k);
      offsets.mutable_data()[i] = t.offset(k);
      ratios.mutable_data()[i] = tvc::laplace_ratios()[i];
    }
    return py::make_tuple(cdfs, sizes, offsets, ratios);
  }, "(cdfs, sizes, offsets, ratios) of the continuous CCM's discrete Laplace tables (docs/ccm.md).");

  py::class_<tvc::ContinuousCheckerboardCoder>(m, "ContinuousCheckerboardCoder")
      .def(py::init([](const py::buffer& blob, int channels, int context_planes) {
        BytesView v(blob);
        return tvc::ContinuousCheckerboardCoder(tvc::IntNet::parse(v.data(), v.size()), channels, context_planes);
      }), py::arg("blob"), py::arg("channels"), py::arg("context_planes"))
      .def_property_readonly("channels", &tvc::ContinuousCheckerboardCoder::channels)
      .def_property_readonly("context_planes", &tvc::ContinuousCheckerboardCoder::context_planes)
      .def_property_readonly("context_channels", &tvc::ContinuousCheckerboardCoder::context_channels)
      .def("encode", [](const tvc::ContinuousCheckerboardCoder& c, const py::array& latent_in,
                        const py::object& ctx_in) {
        auto latent = as_int_array<int32_t>(latent_in, "latent");
        const auto s = latent_shape(latent, c.channels(), "latent");
        tvc::check_continuous_latent(c.channels(), s[0], s[1], s[2]);
        auto ctx = continuous_context(c, ctx_in, s[0], s[1], s[2]);
        std::vector<uint8_t> out;
        {
          py::gil_scoped_release nogil;
          tvc::RansEncoder enc(tvc::kContinuousPrecision);
          c.encode(latent.data(), ctx.data(), s[0], s[1], s[2], enc);
          out = enc.finish();
        }
        return to_bytes(out);
      }, py::arg("latent"), py::arg("context") = py::none(),
         "Quantised latent (channels, frames, height, width) -> rANS stream.")
      .def("decode", [](const tvc::ContinuousCheckerboardCoder& c, const py::buffer& data, const py::object& ctx_in,
                        int t, int h, int w) {
        BytesView v(data);
        tvc::check_continuous_latent(c.channels(), t, h, w);  // before allocating: sizes come from a packet
        auto ctx = continuous_context(c, ctx_in, t, h, w);
        py::array_t<int32_t> out({c.channels(), t, h, w});
        int32_t* o = out.mutable_data();
        std::fill(o, o + out.size(), 0);
        {
          py::gil_scoped_release nogil;
          tvc::RansDecoder dec(v.data(), v.size(), tvc::kContinuousPrecision);
          c.decode(dec, ctx.data(), t, h, w, o);
          dec.finish();
        }
        return out;
      }, py::arg("data"), py::arg("context"), py::arg("frames"), py::arg("height"), py::arg("width"),
         "rANS stream -> latent (channels, frames, height, width); InvalidDataError on damage.")
      .def("context", [](const tvc::ContinuousCheckerboardCoder& c, const py::array& latent_in,
                         const py::object& ctx_in, int f, int pass) {
        auto latent = as_int_array<int32_t>(latent_in, "latent");
        const auto s = latent_shape(latent, c.channels(), "latent");
        tvc::check_continuous_latent(c.channels(), s[0], s[1], s[2]);
        auto ctx = continuous_context(c, ctx_in, s[0], s[1], s[2]);
        if (f < 0 || f >= s[0] || (pass != 0 && pass != 1)) fail(TVC_EINVAL, "frame or pass out of range");
        py::array_t<int32_t> out({c.context_channels(), s[1], s[2]});
        c.context(latent.data(), ctx.data(), f, pass, s[0], s[1], s[2], out.mutable_data());
        return out;
      }, py::arg("latent"), py::arg("context"), py::arg("frame"), py::arg("pass_index"),
         "Context planes the coder uses for one frame and pass (for training and tests).")
      .def("params", [](const tvc::ContinuousCheckerboardCoder& c, const py::array& out_in) {
        auto o = as_int_array<int32_t>(out_in, "net_output");
        if (o.ndim() != 3 || o.shape(0) != 2 * c.channels() || o.shape(1) < 1 || o.shape(2) < 1)
          fail(TVC_EINVAL, "net_output must have shape (" + std::to_string(2 * c.channels()) + ", height, width)");
        const int h = static_cast<int>(o.shape(1)), w = static_cast<int>(o.shape(2));
        py::array_t<int32_t> index({c.channels(), h, w}), mean({c.channels(), h, w});
        c.params(o.data(), h, w, index.mutable_data(), mean.mutable_data());
        return py::make_tuple(index, mean);
      }, py::arg("net_output"), "Net output planes -> (scale index, mean) per element.");

  // ------------------------------------------------------------ bitstream
  m.attr("SEQUENCE_HEADER_FIELDS") = field_names(sequence_header_fields());
  m.attr("SEQUENCE_HEADER_DEFAULTS") = field_defaults(sequence_header_fields());
  m.attr("GOP_PACKET_FIELDS") = field_names(gop_packet_fields());
  m.attr("GOP_PACKET_DEFAULTS") = field_defaults(gop_packet_fields());
  m.attr("END_OF_STREAM_FIELDS") = field_names(end_of_stream_fields());
  m.attr("END_OF_STREAM_DEFAULTS") = field_defaults(end_of_stream_fields());
  m.def("write_sequence_header", [](const py::object& d) {
    return to_bytes(tvc::write_sequence_header(from_dict(d, sequence_header_fields(), "SequenceHeader")));
  }, py::arg("header"));
  m.def("parse_sequence_header", [](const py::buffer& b) {
    BytesView v(b);
    return to_dict(tvc::parse_sequence_header(v.data(), v.size()), sequence_header_fields());
  }, py::arg("packet"));
  m.def("write_gop_packet", [](const py::object& d) {
    return to_bytes(tvc::write_gop_packet(from_dict(d, gop_packet_fields(), "GopPacket")));
  }, py::arg("packet"));
  m.def("parse_gop_packet", [](const py::buffer& b, const py::object& header) {
    BytesView v(b);
    tvc::SequenceHeader storage;
    const tvc::SequenceHeader* h = optional_header(header, storage);
    return to_dict(tvc::parse_gop_packet(v.data(), v.size(), h), gop_packet_fields());
  }, py::arg("packet"), py::arg("header") = py::none());
  m.def("packet_type", [](const py::buffer& b) {
    BytesView v(b);
    return tvc::packet_type(v.data(), v.size());
  }, py::arg("packet"));
  m.def("write_record", [](const py::buffer& b) {
    BytesView v(b);
    return to_bytes(tvc::write_record(std::vector<uint8_t>(v.data(), v.data() + v.size())));
  }, py::arg("packet"));
  m.def("write_end_of_stream", [](const py::object& d) {
    return to_bytes(tvc::write_end_of_stream(from_dict(d, end_of_stream_fields(), "EndOfStream")));
  }, py::arg("end"));
  m.def("parse_end_of_stream", [](const py::buffer& b, const py::object& header) {
    BytesView v(b);
    tvc::SequenceHeader storage;
    const tvc::SequenceHeader* h = optional_header(header, storage);
    return to_dict(tvc::parse_end_of_stream(v.data(), v.size(), h), end_of_stream_fields());
  }, py::arg("packet"), py::arg("header") = py::none());
  // Incremental record scanner: feed() pieces of a stream, next() returns a
  // dict per record or damaged stretch, None when it needs more (or, after
  // finish(), at the end).
  py::class_<tvc::RecordScanner>(m, "RecordScanner")
      .def(py::init<>())
      .def("feed", [](tvc::RecordScanner& s, const py::buffer& b) {
        BytesView v(b);
        s.feed(v.data(), v.size());
      }, py::arg("data"))
      .def("finish", &tvc::RecordScanner::finish)
      .def_property_readonly("finished", &tvc::RecordScanner::finished)
      .def_property_readonly("position", &tvc::RecordScanner::position)
      .def_property_readonly("buffered", &tvc::RecordScanner::buffered)
      .def("next", [](tvc::RecordScanner& s) -> py::object {
        tvc::ScannedRecord r;
        tvc::RecordScanner::Status st;
        {
          py::gil_scoped_release nogil;
          st = s.next(r);
        }
        if (st != tvc::RecordScanner::kRecord) return py::none();
        py::dict d;
        d["offset"] = r.offset;
        d["size"] = r.size;
        d["type"] = r.type;
        d["error"] = r.error;
        d["message"] = r.message;
        d["packet"] = r.error ? py::object(py::none()) : py::object(to_bytes(r.packet));
        return d;
      });
  m.def("scan_records", [](const py::buffer& b) {
    BytesView v(b);
    std::vector<tvc::RecordInfo> recs;
    {
      py::gil_scoped_release nogil;
      recs = tvc::scan_records(v.data(), v.size());
    }
    py::list out;
    for (const auto& r : recs) {
      py::dict d;
      d["offset"] = r.offset;
      d["packet_offset"] = r.packet_offset;
      d["packet_size"] = r.packet_size;
      d["type"] = r.type;
      d["error"] = r.error;
      d["message"] = r.message;
      out.append(d);
    }
    return out;
  }, py::arg("data"));
}
