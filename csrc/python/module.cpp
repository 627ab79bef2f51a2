// tvc_ffmpeg._native: thin pybind11 bindings over the C++ core.
//
// Arrays come in as numpy buffers (no nested lists), heavy loops run with the
// GIL released, and every tvc::Error becomes the Python exception class that
// tvc_ffmpeg.errors maps its code to (one table, in Python).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <limits>
#include <string>

#include "../core/bitstream.hpp"
#include "../core/ccm.hpp"
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

// ---------------------------------------------------------------- bitstream dicts

py::dict header_to_dict(const tvc::SequenceHeader& h) {
  py::dict d;
  d["version_major"] = h.version_major;
  d["version_minor"] = h.version_minor;
  d["model_id"] = h.model_id;
  d["weights_sha256"] = py::bytes(reinterpret_cast<const char*>(h.weights_sha256.data()), 32);
  d["width"] = h.width;
  d["height"] = h.height;
  d["frame_rate"] = py::make_tuple(h.frame_rate.num, h.frame_rate.den);
  d["time_base"] = py::make_tuple(h.time_base.num, h.time_base.den);
  d["sample_aspect_ratio"] = py::make_tuple(h.sample_aspect_ratio.num, h.sample_aspect_ratio.den);
  d["color_primaries"] = h.color_primaries;
  d["color_trc"] = h.color_trc;
  d["colorspace"] = h.colorspace;
  d["color_range"] = h.color_range;
  d["chroma_format"] = h.chroma_format;
  d["bit_depth"] = h.bit_depth;
  d["gop_length"] = h.gop_length;
  d["flags"] = h.flags;
  return d;
}

tvc::Rational rational(const py::dict& d, const char* key) {
  auto t = d[key].cast<std::pair<uint32_t, uint32_t>>();
  return tvc::Rational{t.first, t.second};
}

tvc::SequenceHeader header_from_dict(const py::dict& d) {
  tvc::SequenceHeader h;
  h.version_major = d["version_major"].cast<uint8_t>();
  h.version_minor = d["version_minor"].cast<uint8_t>();
  h.model_id = d["model_id"].cast<std::string>();
  const std::string sha = as_string(d["weights_sha256"].cast<py::bytes>());
  if (sha.size() != 32) fail(TVC_EINVAL, "weights_sha256 must be 32 bytes");
  std::copy(sha.begin(), sha.end(), h.weights_sha256.begin());
  h.width = d["width"].cast<uint32_t>();
  h.height = d["height"].cast<uint32_t>();
  h.frame_rate = rational(d, "frame_rate");
  h.time_base = rational(d, "time_base");
  h.sample_aspect_ratio = rational(d, "sample_aspect_ratio");
  h.color_primaries = d["color_primaries"].cast<uint8_t>();
  h.color_trc = d["color_trc"].cast<uint8_t>();
  h.colorspace = d["colorspace"].cast<uint8_t>();
  h.color_range = d["color_range"].cast<uint8_t>();
  h.chroma_format = d["chroma_format"].cast<uint8_t>();
  h.bit_depth = d["bit_depth"].cast<uint8_t>();
  h.gop_length = d["gop_length"].cast<uint32_t>();
  h.flags = d["flags"].cast<uint16_t>();
  return h;
}

py::dict gop_to_dict(const tvc::GopPacket& p) {
  py::dict d;
  d["gop_index"] = p.gop_index;
  d["frame_count"] = p.frame_count;
  d["first_pts"] = p.first_pts;
  d["quality"] = p.quality;
  d["mask_pattern"] = p.mask_pattern;
  d["continuous_step"] = p.continuous_step;
  d["coded_width"] = p.coded_width;
  d["coded_height"] = p.coded_height;
  d["flags"] = p.flags;
  py::list subs;
  for (const auto& s : p.substreams) subs.append(py::make_tuple(s.kind, to_bytes(s.payload)));
  d["substreams"] = subs;
  return d;
}

tvc::GopPacket gop_from_dict(const py::dict& d) {
  tvc::GopPacket p;
  p.gop_index = d["gop_index"].cast<uint32_t>();
  p.frame_count = d["frame_count"].cast<uint32_t>();
  p.first_pts = d["first_pts"].cast<int64_t>();
  p.quality = d["quality"].cast<uint8_t>();
  p.mask_pattern = d["mask_pattern"].cast<uint8_t>();
  p.continuous_step = d["continuous_step"].cast<uint32_t>();
  p.coded_width = d["coded_width"].cast<uint32_t>();
  p.coded_height = d["coded_height"].cast<uint32_t>();
  p.flags = d["flags"].cast<uint8_t>();
  for (const auto& item : d["substreams"]) {
    auto t = item.cast<py::tuple>();
    tvc::Substream s;
    s.kind = t[0].cast<uint8_t>();
    const std::string payload = as_string(t[1].cast<py::bytes>());
    s.payload.assign(payload.begin(), payload.end());
    p.substreams.push_back(std::move(s));
  }
  return p;
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

  py::dict codes;
  codes["TVC_OK"] = int(TVC_OK);
  codes["TVC_EAGAIN"] = int(TVC_EAGAIN);
  codes["TVC_EOF"] = int(TVC_EOF);
  codes["TVC_EINVAL"] = int(TVC_EINVAL);
  codes["TVC_EINVALIDDATA"] = int(TVC_EINVALIDDATA);
  codes["TVC_ETRUNCATED"] = int(TVC_ETRUNCATED);
  codes["TVC_ECRC"] = int(TVC_ECRC);
  codes["TVC_EUNSUPPORTED_VERSION"] = int(TVC_EUNSUPPORTED_VERSION);
  codes["TVC_EMODEL_MISMATCH"] = int(TVC_EMODEL_MISMATCH);
  codes["TVC_ENOMEM"] = int(TVC_ENOMEM);
  codes["TVC_ELIMIT"] = int(TVC_ELIMIT);
  codes["TVC_EBACKEND"] = int(TVC_EBACKEND);
  codes["TVC_EINTERNAL"] = int(TVC_EINTERNAL);
  m.attr("ERROR_CODES") = codes;
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
    const tvc::IntNet net = tvc::IntNet::parse(v.data(), v.size());
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
     "Runs an integer network blob (docs/ccm.md) on (channels, height, width) int32 planes.");

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
        return tvc::CheckerboardCoder(tvc::IntNet::parse(v.data(), v.size()), levels);
      }), py::arg("blob"), py::arg("levels"))
      .def_property_readonly("context_channels", &tvc::CheckerboardCoder::context_channels)
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

  // ------------------------------------------------------------ bitstream
  m.def("write_sequence_header", [](const py::dict& d) {
    return to_bytes(tvc::write_sequence_header(header_from_dict(d)));
  }, py::arg("header"));
  m.def("parse_sequence_header", [](const py::buffer& b) {
    BytesView v(b);
    return header_to_dict(tvc::parse_sequence_header(v.data(), v.size()));
  }, py::arg("packet"));
  m.def("write_gop_packet", [](const py::dict& d) {
    return to_bytes(tvc::write_gop_packet(gop_from_dict(d)));
  }, py::arg("packet"));
  m.def("parse_gop_packet", [](const py::buffer& b, const py::object& header) {
    BytesView v(b);
    if (header.is_none()) return gop_to_dict(tvc::parse_gop_packet(v.data(), v.size()));
    const tvc::SequenceHeader h = header_from_dict(header.cast<py::dict>());
    return gop_to_dict(tvc::parse_gop_packet(v.data(), v.size(), &h));
  }, py::arg("packet"), py::arg("header") = py::none());
  m.def("packet_type", [](const py::buffer& b) {
    BytesView v(b);
    return tvc::packet_type(v.data(), v.size());
  }, py::arg("packet"));
  m.def("write_record", [](const py::buffer& b) {
    BytesView v(b);
    return to_bytes(tvc::write_record(std::vector<uint8_t>(v.data(), v.data() + v.size())));
  }, py::arg("packet"));
  m.def("write_end_of_stream", [](uint64_t gops, uint64_t frames) {
    return to_bytes(tvc::write_end_of_stream(tvc::EndOfStream{gops, frames}));
  }, py::arg("gop_count"), py::arg("frame_count"));
  m.def("parse_end_of_stream", [](const py::buffer& b, const py::object& header) {
    BytesView v(b);
    tvc::EndOfStream e;
    if (header.is_none()) {
      e = tvc::parse_end_of_stream(v.data(), v.size());
    } else {
      const tvc::SequenceHeader h = header_from_dict(header.cast<py::dict>());
      e = tvc::parse_end_of_stream(v.data(), v.size(), &h);
    }
    return py::make_tuple(e.gop_count, e.frame_count);
  }, py::arg("packet"), py::arg("header") = py::none(), "(gop_count, frame_count) of an end-of-stream packet.");
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
