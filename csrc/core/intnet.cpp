#include "intnet.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "bytes.hpp"
#include "status.hpp"

namespace tvc {

namespace {

constexpr uint8_t kMagic[4] = {'T', 'V', 'C', 'N'};
constexpr uint16_t kBlobVersion = 1;

void conv(const IntConv& L, const int32_t* in, int h, int w, int32_t* out) {
  const int r = L.kernel / 2;
  const std::size_t plane = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  std::vector<int32_t> acc(plane);
  for (int o = 0; o < L.cout; ++o) {
    std::fill(acc.begin(), acc.end(), L.bias[static_cast<std::size_t>(o)]);
    for (int i = 0; i < L.cin; ++i) {
      const int32_t* src = in + static_cast<std::size_t>(i) * plane;
      for (int dy = 0; dy < L.kernel; ++dy) {
        for (int dx = 0; dx < L.kernel; ++dx) {
          const int32_t wv = L.weight[((static_cast<std::size_t>(o) * L.cin + i) * L.kernel + dy) * L.kernel + dx];
          if (wv == 0) continue;
          const int oy = dy - r, ox = dx - r;
          const int y0 = std::max(0, -oy), y1 = std::min(h, h - oy);
          const int x0 = std::max(0, -ox), x1 = std::min(w, w - ox);
          for (int y = y0; y < y1; ++y) {
            int32_t* a = acc.data() + static_cast<std::size_t>(y) * w;
            const int32_t* s = src + static_cast<std::size_t>(y + oy) * w + ox;
            for (int x = x0; x < x1; ++x) a[x] += wv * s[x];
          }
        }
      }
    }
    const int32_t m = L.mult[static_cast<std::size_t>(o)];
    const int sh = L.shift[static_cast<std::size_t>(o)];
    int32_t* dst = out + static_cast<std::size_t>(o) * plane;
    for (std::size_t p = 0; p < plane; ++p) dst[p] = requantize(acc[p], m, sh, L.relu);
  }
}

}  // namespace

void read_layer_params(ByteReader& r, IntConv& L, const std::string& what) {
  const std::size_t nw = static_cast<std::size_t>(L.cout) * L.cin * L.kernel * L.kernel;
  const uint8_t* wb = r.bytes(nw);
  L.weight.resize(nw);
  for (std::size_t k = 0; k < nw; ++k) {
    L.weight[k] = static_cast<int8_t>(wb[k]);
    if (L.weight[k] == -128) fail(TVC_EINVALIDDATA, what + " weight -128 (range is -127..127)");
  }
  L.bias.resize(static_cast<std::size_t>(L.cout));
  L.mult.resize(static_cast<std::size_t>(L.cout));
  L.shift.resize(static_cast<std::size_t>(L.cout));
  for (auto& b : L.bias) {
    b = static_cast<int32_t>(r.u32());
    if (b > (1 << 30) || b < -(1 << 30)) fail(TVC_EINVALIDDATA, what + " bias out of range");
  }
  for (auto& m : L.mult) {
    m = static_cast<int32_t>(r.u32());
    if (m < 0) fail(TVC_EINVALIDDATA, what + " multiplier out of range");
  }
  for (auto& s : L.shift) {
    s = r.u8();
    if (s < 1 || s > 62) fail(TVC_EINVALIDDATA, what + " shift out of range");
  }
}

void write_layer_params(ByteWriter& w, const IntConv& L) {
  for (int8_t v : L.weight) w.u8(static_cast<uint8_t>(v));
  for (int32_t v : L.bias) w.u32(static_cast<uint32_t>(v));
  for (int32_t v : L.mult) w.u32(static_cast<uint32_t>(v));
  for (uint8_t v : L.shift) w.u8(v);
}

void run_1x1(const IntConv& L, const int32_t* in, int32_t* out) {
  for (int o = 0; o < L.cout; ++o) {
    const int8_t* wrow = L.weight.data() + static_cast<std::size_t>(o) * L.cin;
    int32_t acc = L.bias[static_cast<std::size_t>(o)];
    for (int i = 0; i < L.cin; ++i) acc += int32_t{wrow[i]} * in[i];
    out[o] = requantize(acc, L.mult[static_cast<std::size_t>(o)], L.shift[static_cast<std::size_t>(o)], L.relu);
  }
}

IntNet IntNet::parse(const uint8_t* data, std::size_t size, LastLayer last) {
  ByteReader r(data, size, "integer network blob");
  const uint8_t* magic = r.bytes(4);
  if (std::memcmp(magic, kMagic, 4) != 0) fail(TVC_EINVALIDDATA, "not an integer network blob (magic)");
  if (r.u16() != kBlobVersion) fail(TVC_EINVALIDDATA, "integer network blob version not supported");
  const uint16_t count = r.u16();
  if (count < 1 || count > 32) fail(TVC_EINVALIDDATA, "integer network must have 1..32 layers");
  IntNet net;
  for (uint16_t l = 0; l < count; ++l) {
    IntConv L;
    L.cin = r.u16();
    L.cout = r.u16();
    L.kernel = r.u8();
    const uint8_t relu = r.u8();
    if (L.cin < 1 || L.cout < 1 || L.cin > kMaxChannels || L.cout > kMaxChannels ||
        (L.kernel != 1 && L.kernel != 3) || relu > 1 || L.cin * L.kernel * L.kernel > kMaxFanIn)
      fail(TVC_EINVALIDDATA, "integer network layer " + std::to_string(l) + " has invalid geometry");
    if (!net.layers_.empty() && net.layers_.back().cout != L.cin)
      fail(TVC_EINVALIDDATA, "integer network layer " + std::to_string(l) + " does not fit the previous one");
    L.relu = relu == 1;
    read_layer_params(r, L, "integer network");
    net.layers_.push_back(std::move(L));
  }
  if (r.left() != 0) fail(TVC_EINVALIDDATA, "bytes after the last integer network layer");
  if (last == LastLayer::kHidden && !net.layers_.back().relu)
    fail(TVC_EINVALIDDATA, "the last integer network layer must be hidden (ReLU) in a trunk with digit heads");
  if (last == LastLayer::kLogits && net.layers_.back().relu)
    fail(TVC_EINVALIDDATA, "the last integer network layer must output logits");
  return net;
}

std::vector<uint8_t> IntNet::serialize() const {
  ByteWriter w;
  w.bytes(kMagic, 4);
  w.u16(kBlobVersion);
  w.u16(static_cast<uint16_t>(layers_.size()));
  for (const IntConv& L : layers_) {
    w.u16(static_cast<uint16_t>(L.cin));
    w.u16(static_cast<uint16_t>(L.cout));
    w.u8(static_cast<uint8_t>(L.kernel));
    w.u8(L.relu ? 1 : 0);
    write_layer_params(w, L);
  }
  return w.buffer();
}

void IntNet::run(const int32_t* in, int h, int w, int32_t* out) const {
  if (h < 1 || w < 1) fail(TVC_EINVAL, "integer network input must be at least 1x1");
  const std::size_t plane = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  for (std::size_t k = 0; k < plane * static_cast<std::size_t>(in_channels()); ++k)
    if (in[k] < -127 || in[k] > 127) fail(TVC_EINVAL, "integer network input outside [-127, 127]");
  const int32_t* src = in;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const IntConv& L = layers_[l];
    int32_t* dst;
    if (l + 1 == layers_.size()) {
      dst = out;
    } else {
      std::vector<int32_t>& buf = (l % 2 == 0) ? buf_a_ : buf_b_;
      buf.resize(plane * static_cast<std::size_t>(L.cout));
      dst = buf.data();
    }
    conv(L, src, h, w, dst);
    src = dst;
  }
}

}  // namespace tvc
