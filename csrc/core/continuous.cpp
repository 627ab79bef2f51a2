#include "continuous.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "cdf.hpp"
#include "ccm.hpp"
#include "status.hpp"

namespace tvc {

namespace {

// round(2^30 * exp(-1 / b_i)), b_i = 0.11 * (64 / 0.11)^(i / 63). Constants,
// not computed at run time, so every platform starts from the same integers
// (python/tvc_ffmpeg/models/continuous_ccm.py holds the same list; a test
// checks both against the formula).
constexpr uint32_t kRatios[kNumScales] = {
    120995,     289889,     638594,     1303923,    2485887,    4454280,    7546207,    12152760,
    18695239,   27593624,   39231600,   53923084,   71884723,   93217557,   117899373,  145787570,
    176631063,  210088866,  245752690,  283170975,  321872177,  361385697,  401259414,  441073327,
    480449260,  519056898,  556616610,  592899652,  627726332,  660962707,  692516324,  722331421,
    750383921,  776676494,  801233846,  824098374,  845326256,  864983992,  883145428,  899889217,
    915296706,  929450210,  942431613,  954321281,  965197221,  975134462,  984204615,  992475586,
    1000011406, 1006872163, 1013114010, 1018789227, 1023946335, 1028630241, 1032882399, 1036740995,
    1040241135, 1043415035, 1046292215, 1048899690, 1051262145, 1053402117, 1055340159, 1057095000};

constexpr uint32_t kPeak = uint32_t{1} << 30;
// A residual gets its own symbol while its count is at least 2^-16 of the
// peak: below that the coder's minimum frequency (1 / 2^16) would dominate.
constexpr uint32_t kFloor = kPeak >> 16;

// Discrete Laplace (two-sided geometric) counts: c_0 = 2^30,
// c_k = floor(c_{k-1} * r / 2^30). Floor, not round-to-nearest, so the
// sequence reaches 0 (rounding to nearest sticks at 1 when r > 1/2).
CdfTable build_tables() {
  std::vector<int32_t> cdfs(static_cast<std::size_t>(kNumScales) * kLaplaceStride, 0);
  std::vector<int32_t> sizes(kNumScales), offsets(kNumScales);
  std::vector<uint32_t> c, counts;
  for (int i = 0; i < kNumScales; ++i) {
    const uint64_t r = kRatios[i];
    c.assign(1, kPeak);
    uint32_t next = static_cast<uint32_t>((uint64_t{c.back()} * r) >> 30);
    while (c.size() <= static_cast<std::size_t>(kMaxLaplaceRadius) && (next >= kFloor || c.size() == 1)) {
      c.push_back(next);
      next = static_cast<uint32_t>((uint64_t{next} * r) >> 30);
    }
    const int R = static_cast<int>(c.size()) - 1;
    // Escape count: twice the mass beyond R (both tails). The sequence
    // falls by at least 1 per step from below 2^14, so this loop ends.
    uint64_t tail = 0;
    for (uint32_t x = next; x > 0; x = static_cast<uint32_t>((uint64_t{x} * r) >> 30)) tail += x;
    const std::size_t n = static_cast<std::size_t>(2 * R + 2);
    counts.resize(n);
    for (int s = 0; s <= 2 * R; ++s) counts[static_cast<std::size_t>(s)] = c[static_cast<std::size_t>(std::abs(s - R))];
    counts[n - 1] = static_cast<uint32_t>(std::min<uint64_t>(2 * tail, 0xffffffffu));
    pmf_to_cdf(counts.data(), n, kContinuousPrecision, cdfs.data() + static_cast<std::size_t>(i) * kLaplaceStride);
    sizes[static_cast<std::size_t>(i)] = static_cast<int32_t>(n);
    offsets[static_cast<std::size_t>(i)] = -R;
  }
  return CdfTable(cdfs.data(), kNumScales, kLaplaceStride, sizes.data(), offsets.data(), kContinuousPrecision,
                  true);
}

inline int32_t clamp127(int32_t v) { return std::min<int32_t>(127, std::max<int32_t>(-127, v)); }

}  // namespace

const uint32_t* laplace_ratios() { return kRatios; }
const CdfTable& laplace_table() {
  static const CdfTable table = build_tables();  // thread-safe one-time build
  return table;
}

void check_continuous_latent(int c, int t, int h, int w) {
  if (c < 1) fail(TVC_EINVAL, "continuous latent needs at least one channel");
  check_token_grid(t, h, w);
  if (c > kMaxLatentChannels || int64_t{c} * t * h * w > kMaxGridPositions)
    fail(TVC_ELIMIT, "continuous latent " + std::to_string(c) + "x" + std::to_string(t) + "x" + std::to_string(h) +
                         "x" + std::to_string(w) + " is over the limit of " + std::to_string(kMaxLatentChannels) +
                         " channels and 2^24 elements");
}

ContinuousCheckerboardCoder::ContinuousCheckerboardCoder(IntNet net, int channels, int context_planes)
    : net_(std::move(net)), channels_(channels), planes_(context_planes) {
  if (channels_ < 1 || channels_ > kMaxLatentChannels)
    fail(TVC_EINVAL, "continuous CCM needs 1.." + std::to_string(kMaxLatentChannels) + " latent channels");
  if (planes_ < 0 || planes_ > kMaxContextPlanes)
    fail(TVC_EINVAL, "continuous CCM takes 0.." + std::to_string(kMaxContextPlanes) + " caller context planes");
  if (net_.in_channels() != context_channels())
    fail(TVC_EINVALIDDATA, "continuous CCM net takes " + std::to_string(net_.in_channels()) +
                               " context planes, " + std::to_string(planes_) + " caller planes and " +
                               std::to_string(channels_) + " channels need " + std::to_string(context_channels()));
  if (net_.out_channels() != 2 * channels_)
    fail(TVC_EINVALIDDATA, "continuous CCM net gives " + std::to_string(net_.out_channels()) +
                               " planes, " + std::to_string(channels_) + " channels need " +
                               std::to_string(2 * channels_) + " (scale index and mean)");
}

void ContinuousCheckerboardCoder::check_context(const int32_t* ctx, int t, int h, int w) const {
  const std::size_t n = static_cast<std::size_t>(planes_) * t * h * w;
  for (std::size_t k = 0; k < n; ++k)
    if (ctx[k] < -127 || ctx[k] > 127) fail(TVC_EINVAL, "continuous CCM context plane value outside [-127, 127]");
}

void ContinuousCheckerboardCoder::context(const int32_t* latent, const int32_t* ctx, int f, int pass, int t,
                                          int h, int w, int32_t* planes) const {
  const int C = channels_, Q = planes_;
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  const std::size_t frames = static_cast<std::size_t>(t) * plane;  // one channel's T x H x W
  std::fill(planes, planes + plane * static_cast<std::size_t>(context_channels()), 0);
  for (int q = 0; q < Q; ++q)
    std::copy_n(ctx + q * frames + f * plane, plane, planes + static_cast<std::size_t>(q) * plane);
  if (f > 0) {
    for (int c = 0; c < C; ++c) {
      const int32_t* prev = latent + c * frames + (f - 1) * plane;
      int32_t* dst = planes + static_cast<std::size_t>(Q + c) * plane;
      for (std::size_t p = 0; p < plane; ++p) dst[p] = clamp127(prev[p]);
    }
    std::fill_n(planes + static_cast<std::size_t>(Q + C) * plane, plane, 127);
  }
  if (pass == 1) {
    for (int y = 0; y < h; ++y)
      for (int x = (y & 1); x < w; x += 2) {  // anchors: (y + x) even
        const std::size_t p = static_cast<std::size_t>(y) * w + x;
        for (int c = 0; c < C; ++c)
          planes[static_cast<std::size_t>(Q + C + 1 + c) * plane + p] = clamp127(latent[c * frames + f * plane + p]);
        planes[static_cast<std::size_t>(Q + 2 * C + 1) * plane + p] = 127;
      }
  }
}

void ContinuousCheckerboardCoder::params(const int32_t* out, int h, int w, int32_t* index, int32_t* mean) const {
  const std::size_t n = static_cast<std::size_t>(channels_) * h * w;
  for (std::size_t k = 0; k < n; ++k) {
    // Arithmetic shift floors, so (o + 8) >> 4 rounds halves up; |o| <= 2^20.
    index[k] = std::min<int32_t>(kNumScales - 1, std::max<int32_t>(0, (out[k] + 8) >> 4));
    mean[k] = (out[n + k] + 8) >> 4;
  }
}

void ContinuousCheckerboardCoder::encode(const int32_t* latent, const int32_t* ctx, int t, int h, int w,
                                         RansEncoder& enc) const {
  check_continuous_latent(channels_, t, h, w);
  check_context(ctx, t, h, w);
  if (enc.precision() != kContinuousPrecision) fail(TVC_EINVAL, "continuous CCM needs a 16-bit rANS coder");
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  const std::size_t frames = static_cast<std::size_t>(t) * plane;
  const std::size_t total = frames * static_cast<std::size_t>(channels_);
  for (std::size_t k = 0; k < total; ++k)
    if (latent[k] < -kMaxLatentValue || latent[k] > kMaxLatentValue)
      fail(TVC_EINVAL, "continuous latent value " + std::to_string(latent[k]) + " outside [-2^20, 2^20]");
  const CdfTable& table = laplace_table();
  std::vector<int32_t> planes(plane * static_cast<std::size_t>(context_channels()));
  std::vector<int32_t> out(plane * 2 * static_cast<std::size_t>(channels_));
  std::vector<int32_t> index(plane * static_cast<std::size_t>(channels_)), mean(index.size());
  std::vector<int32_t> res, idx;
  res.reserve(index.size() / 2 + 1);
  idx.reserve(index.size() / 2 + 1);
  for (int f = 0; f < t; ++f)
    for (int pass = 0; pass < 2; ++pass) {
      context(latent, ctx, f, pass, t, h, w, planes.data());
      net_.run(planes.data(), h, w, out.data());
      params(out.data(), h, w, index.data(), mean.data());
      res.clear();
      idx.clear();
      for (int c = 0; c < channels_; ++c)
        for (int y = 0; y < h; ++y)
          for (int x = ((y + pass) & 1); x < w; x += 2) {
            const std::size_t e = static_cast<std::size_t>(c) * plane + static_cast<std::size_t>(y) * w + x;
            res.push_back(latent[c * frames + f * plane + static_cast<std::size_t>(y) * w + x] - mean[e]);
            idx.push_back(index[e]);
          }
      enc.encode_indexed(res.data(), idx.data(), res.size(), table);
    }
}

void ContinuousCheckerboardCoder::decode(RansDecoder& dec, const int32_t* ctx, int t, int h, int w,
                                         int32_t* latent) const {
  check_continuous_latent(channels_, t, h, w);
  check_context(ctx, t, h, w);
  if (dec.precision() != kContinuousPrecision) fail(TVC_EINVAL, "continuous CCM needs a 16-bit rANS coder");
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  const std::size_t frames = static_cast<std::size_t>(t) * plane;
  const CdfTable& table = laplace_table();
  std::vector<int32_t> planes(plane * static_cast<std::size_t>(context_channels()));
  std::vector<int32_t> out(plane * 2 * static_cast<std::size_t>(channels_));
  std::vector<int32_t> index(plane * static_cast<std::size_t>(channels_)), mean(index.size());
  std::vector<int32_t> res, idx;
  res.reserve(index.size() / 2 + 1);
  idx.reserve(index.size() / 2 + 1);
  for (int f = 0; f < t; ++f)
    for (int pass = 0; pass < 2; ++pass) {
      context(latent, ctx, f, pass, t, h, w, planes.data());
      net_.run(planes.data(), h, w, out.data());
      params(out.data(), h, w, index.data(), mean.data());
      idx.clear();
      for (int c = 0; c < channels_; ++c)
        for (int y = 0; y < h; ++y)
          for (int x = ((y + pass) & 1); x < w; x += 2)
            idx.push_back(index[static_cast<std::size_t>(c) * plane + static_cast<std::size_t>(y) * w + x]);
      res.resize(idx.size());
      dec.decode_indexed(idx.data(), idx.size(), table, res.data());
      std::size_t k = 0;
      for (int c = 0; c < channels_; ++c)
        for (int y = 0; y < h; ++y)
          for (int x = ((y + pass) & 1); x < w; x += 2) {
            const std::size_t p = static_cast<std::size_t>(y) * w + x;
            const int64_t v = int64_t{res[k++]} + mean[static_cast<std::size_t>(c) * plane + p];
            if (v < -kMaxLatentValue || v > kMaxLatentValue)
              fail(TVC_EINVALIDDATA, "decoded continuous latent value outside [-2^20, 2^20]");
            latent[c * frames + f * plane + p] = static_cast<int32_t>(v);
          }
    }
}

}  // namespace tvc
