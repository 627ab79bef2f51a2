#include "intnet.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#if defined(__SSE2__) && !defined(TVC_INTNET_PORTABLE)
#include <emmintrin.h>
#endif

#include "bytes.hpp"
#include "status.hpp"

namespace tvc {

namespace {

constexpr uint8_t kMagic[4] = {'T', 'V', 'C', 'N'};
constexpr uint16_t kBlobVersion = 1;

constexpr int kChannelAlign = 8;   // int16 lanes of one 128-bit vector
constexpr int kOutBlock = 4;        // output channels per pass over the input
constexpr int kMaxSegments = 3;

int round_up(int v, int m) { return (v + m - 1) / m * m; }

// acc[j][q] = sum over the segments of dot(weight row j, input run of position q)
// for kOutBlock weight rows (stride `row`) and two positions (x0, x1). Sums of
// int8 x int8 products in int32: exact in any order (|partial sum| < 2^26).
// TVC_INTNET_PORTABLE selects the portable loop on x86 too (to test it).
#if defined(__SSE2__) && !defined(TVC_INTNET_PORTABLE)
inline int32_t horizontal_sum(__m128i v) {
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4E));
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xB1));
  return _mm_cvtsi128_si32(v);
}

void dot_block(const int16_t* wt, std::size_t row, const int16_t* x0, const int16_t* x1, const std::ptrdiff_t* seg,
               int segments, int seg_len, int32_t acc[kOutBlock][2]) {
  __m128i a00 = _mm_setzero_si128(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  for (int s = 0; s < segments; ++s) {
    const int16_t* p0 = x0 + seg[s];
    const int16_t* p1 = x1 + seg[s];
    const int16_t* w0 = wt + static_cast<std::size_t>(s) * seg_len;
    for (int k = 0; k < seg_len; k += kChannelAlign) {
      const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p0 + k));
      const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1 + k));
      __m128i wv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w0 + k));
      a00 = _mm_add_epi32(a00, _mm_madd_epi16(wv, v0));
      a01 = _mm_add_epi32(a01, _mm_madd_epi16(wv, v1));
      wv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w0 + row + k));
      a10 = _mm_add_epi32(a10, _mm_madd_epi16(wv, v0));
      a11 = _mm_add_epi32(a11, _mm_madd_epi16(wv, v1));
      wv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w0 + 2 * row + k));
      a20 = _mm_add_epi32(a20, _mm_madd_epi16(wv, v0));
      a21 = _mm_add_epi32(a21, _mm_madd_epi16(wv, v1));
      wv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w0 + 3 * row + k));
      a30 = _mm_add_epi32(a30, _mm_madd_epi16(wv, v0));
      a31 = _mm_add_epi32(a31, _mm_madd_epi16(wv, v1));
    }
  }
  acc[0][0] = horizontal_sum(a00); acc[0][1] = horizontal_sum(a01);
  acc[1][0] = horizontal_sum(a10); acc[1][1] = horizontal_sum(a11);
  acc[2][0] = horizontal_sum(a20); acc[2][1] = horizontal_sum(a21);
  acc[3][0] = horizontal_sum(a30); acc[3][1] = horizontal_sum(a31);
}
#else
// Portable form of the same sums; compilers vectorise the inner loop
// (widening multiply-accumulate on arm64).
void dot_block(const int16_t* wt, std::size_t row, const int16_t* x0, const int16_t* x1, const std::ptrdiff_t* seg,
               int segments, int seg_len, int32_t acc[kOutBlock][2]) {
  for (int j = 0; j < kOutBlock; ++j) acc[j][0] = acc[j][1] = 0;
  for (int s = 0; s < segments; ++s) {
    const int16_t* p0 = x0 + seg[s];
    const int16_t* p1 = x1 + seg[s];
    for (int j = 0; j < kOutBlock; ++j) {
      const int16_t* wj = wt + j * row + static_cast<std::size_t>(s) * seg_len;
      int32_t s0 = 0, s1 = 0;
      for (int k = 0; k < seg_len; ++k) {
        s0 += int32_t{wj[k]} * p0[k];
        s1 += int32_t{wj[k]} * p1[k];
      }
      acc[j][0] += s0;
      acc[j][1] += s1;
    }
  }
}
#endif

// One layer at the listed interior positions (y * w + x) of a zero-bordered
// int16 grid. Hidden layers write int16 into the next padded grid (`next`),
// the last layer writes int32 planes (`planes`, cout x h x w).
void conv(const IntConv& L, const IntNet::Packed& P, const int16_t* src, int h, int w,
          const std::vector<int>& positions, int16_t* next, int32_t* planes) {
  const int pw = w + 2;
  const std::size_t plane = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  std::ptrdiff_t seg[kMaxSegments];
  if (P.segments == 1) {
    seg[0] = 0;
  } else {
    for (int s = 0; s < P.segments; ++s) seg[s] = static_cast<std::ptrdiff_t>((s - 1) * pw - 1) * P.cpad_in;
  }
  const std::size_t row = static_cast<std::size_t>(P.segments) * static_cast<std::size_t>(P.seg_len);
  auto padded = [&](int p) { return static_cast<std::size_t>((p / w + 1) * pw + p % w + 1); };
  int32_t acc[kOutBlock][2];
  for (std::size_t n = 0; n < positions.size(); n += 2) {
    const int p[2] = {positions[n], n + 1 < positions.size() ? positions[n + 1] : positions[n]};
    const int count = n + 1 < positions.size() ? 2 : 1;
    const std::size_t q[2] = {padded(p[0]), padded(p[1])};
    const int16_t* x0 = src + q[0] * static_cast<std::size_t>(P.cpad_in);
    const int16_t* x1 = src + q[1] * static_cast<std::size_t>(P.cpad_in);
    for (int ob = 0; ob < P.cout_pad; ob += kOutBlock) {
      dot_block(P.weight.data() + static_cast<std::size_t>(ob) * row, row, x0, x1, seg, P.segments, P.seg_len, acc);
      const int jn = std::min(kOutBlock, L.cout - ob);
      for (int j = 0; j < jn; ++j) {
        const auto o = static_cast<std::size_t>(ob + j);
        for (int k = 0; k < count; ++k) {
          const int32_t v = requantize(acc[j][k] + L.bias[o], L.mult[o], L.shift[o], L.relu);
          if (next != nullptr)
            next[q[k] * static_cast<std::size_t>(P.cpad_out) + o] = static_cast<int16_t>(v);
          else
            planes[o * plane + static_cast<std::size_t>(p[k])] = v;
        }
      }
    }
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
  net.pack();
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

void IntNet::pack() {
  packed_.clear();
  for (const IntConv& L : layers_) {
    Packed P;
    P.cpad_in = round_up(L.cin, kChannelAlign);
    P.cpad_out = round_up(L.cout, kChannelAlign);
    P.cout_pad = round_up(L.cout, kOutBlock);
    P.segments = L.kernel;                // one run per kernel row
    P.seg_len = L.kernel * P.cpad_in;     // the row's kx taps, each cpad_in channels
    const std::size_t row = static_cast<std::size_t>(P.segments) * static_cast<std::size_t>(P.seg_len);
    P.weight.assign(static_cast<std::size_t>(P.cout_pad) * row, 0);
    for (int o = 0; o < L.cout; ++o)
      for (int i = 0; i < L.cin; ++i)
        for (int dy = 0; dy < L.kernel; ++dy)
          for (int dx = 0; dx < L.kernel; ++dx)
            P.weight[static_cast<std::size_t>(o) * row + static_cast<std::size_t>(dy) * P.seg_len +
                     static_cast<std::size_t>(dx) * P.cpad_in + i] =
                L.weight[((static_cast<std::size_t>(o) * L.cin + i) * L.kernel + dy) * L.kernel + dx];
    packed_.push_back(std::move(P));
  }
}

void IntNet::run(const int32_t* in, int h, int w, int32_t* out, const uint8_t* need) const {
  if (h < 1 || w < 1) fail(TVC_EINVAL, "integer network input must be at least 1x1");
  const std::size_t plane = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  for (std::size_t k = 0; k < plane * static_cast<std::size_t>(in_channels()); ++k)
    if (in[k] < -127 || in[k] > 127) fail(TVC_EINVAL, "integer network input outside [-127, 127]");
  const std::size_t nl = layers_.size();
  // Positions each layer computes, last layer first: the needed outputs, then
  // for each earlier layer those positions grown by the later kernel's radius.
  positions_.resize(nl);
  mask_.assign(plane, 1);
  if (need != nullptr) std::copy(need, need + plane, mask_.begin());
  for (std::size_t l = nl; l-- > 0;) {
    std::vector<int>& list = positions_[l];
    list.clear();
    for (std::size_t p = 0; p < plane; ++p)
      if (mask_[p] != 0) list.push_back(static_cast<int>(p));
    if (l == 0 || layers_[l].kernel == 1) continue;
    for (int p : list)  // grow by the 3x3 kernel's radius of one (from this list, not from new marks)
      for (int y = std::max(0, p / w - 1); y <= std::min(h - 1, p / w + 1); ++y)
        for (int x = std::max(0, p % w - 1); x <= std::min(w - 1, p % w + 1); ++x) {
          mask_[static_cast<std::size_t>(y) * w + x] = 1;
        }
  }
  if (need != nullptr) std::fill(out, out + plane * static_cast<std::size_t>(out_channels()), 0);
  // Int16 zero-bordered input grid (the border is the conv's zero padding).
  const std::size_t grid = static_cast<std::size_t>(h + 2) * static_cast<std::size_t>(w + 2);
  const int c0 = packed_.front().cpad_in;
  act_a_.assign(grid * static_cast<std::size_t>(c0), 0);
  for (int c = 0; c < in_channels(); ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        act_a_[(static_cast<std::size_t>(y + 1) * (w + 2) + x + 1) * c0 + c] =
            static_cast<int16_t>(in[c * plane + static_cast<std::size_t>(y) * w + x]);
  const int16_t* src = act_a_.data();
  for (std::size_t l = 0; l < nl; ++l) {
    const Packed& P = packed_[l];
    if (l + 1 == nl) {
      conv(layers_[l], P, src, h, w, positions_[l], nullptr, out);
    } else {
      std::vector<int16_t>& buf = (l % 2 == 0) ? act_b_ : act_a_;
      buf.assign(grid * static_cast<std::size_t>(P.cpad_out), 0);
      conv(layers_[l], P, src, h, w, positions_[l], buf.data(), nullptr);
      src = buf.data();
    }
  }
}

}  // namespace tvc
