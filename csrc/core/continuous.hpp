// Continuous checkerboard context model: codes a GoP's quantised continuous
// latent (int32, C channels x T latent frames x H x W) with discrete Laplace
// distributions whose scale and mean an integer network predicts per element.
//
// Coding order: latent frame by latent frame; per frame two passes, anchors
// ((y + x) even) then the rest; inside a pass channel by channel, raster order.
// Each element is coded as the residual v - mean with the CDF table of its
// scale index (laplace_table(), escape for residuals outside the table).
//
// Context planes of frame f, pass p (Q + 2C + 2 channels, all in [-127, 127]):
//   [0, Q)            the caller's planes for frame f (e.g. the decoded token
//                     grid's digits; both sides have them)
//   [Q, Q+C)          frame f-1's latent, clamped to [-127, 127]; 0 for f = 0
//   Q+C               127 when f > 0, else 0
//   [Q+C+1, Q+2C+1)   frame f's anchors, clamped, in pass 1 only (0 elsewhere)
//   Q+2C+1            127 at anchor positions in pass 1, else 0
// The IntNet maps them to 2C planes, both in 1/16 units (the logit unit):
//   [0, C)  scale index: idx = clamp((o + 8) >> 4, 0, kNumScales - 1)
//   [C, 2C) mean:        mu  = (o + 8) >> 4   (|mu| <= 2^16 by the net's clamp)
// Everything is integer, so encoder and decoder derive identical CDFs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "intnet.hpp"
#include "rans.hpp"

namespace tvc {

// Scale ladder: Laplace scale b_i = 0.11 * (64 / 0.11)^(i / 63), i = 0..63,
// stored as the Q30 ratio r_i = round(2^30 * exp(-1 / b_i)) (continuous.cpp).
constexpr int kNumScales = 64;
constexpr int kContinuousPrecision = 16;
// A table covers residuals [-R_i, R_i] with R_i <= kMaxLaplaceRadius.
constexpr int kMaxLaplaceRadius = 1024;
constexpr int kLaplaceStride = 2 * kMaxLaplaceRadius + 3;  // 2R + 1 values, escape, end
// Latent values the coder accepts (encoder) and produces (decoder).
constexpr int32_t kMaxLatentValue = 1 << 20;
constexpr int kMaxLatentChannels = 256;
constexpr int kMaxContextPlanes = 64;

// The Q30 ratios of the ladder (kNumScales entries).
const uint32_t* laplace_ratios();
// The 64 CDF tables, built once with integer arithmetic only (see continuous.cpp).
const CdfTable& laplace_table();

// Throws TVC_EINVAL for a non-positive size, TVC_ELIMIT for one over the
// limits (check_token_grid's, at most kMaxLatentChannels channels and 2^24
// elements in all). Called before anything is allocated for a latent.
void check_continuous_latent(int c, int t, int h, int w);

class ContinuousCheckerboardCoder {
 public:
  ContinuousCheckerboardCoder(IntNet net, int channels, int context_planes);

  int channels() const { return channels_; }
  int context_planes() const { return planes_; }
  int context_channels() const { return planes_ + 2 * channels_ + 2; }
  const IntNet& net() const { return net_; }

  // latent: C x T x H x W; ctx: Q x T x H x W (may be null when Q = 0).
  void encode(const int32_t* latent, const int32_t* ctx, int t, int h, int w, RansEncoder& enc) const;
  void decode(RansDecoder& dec, const int32_t* ctx, int t, int h, int w, int32_t* latent) const;

  // Context planes (context_channels x h x w) of frame f, pass p, from the
  // latent values known at that point.
  void context(const int32_t* latent, const int32_t* ctx, int f, int pass, int t, int h, int w,
               int32_t* planes) const;
  // Net output (2C x h x w) -> scale index and mean per element (C x h x w each).
  void params(const int32_t* out, int h, int w, int32_t* index, int32_t* mean) const;

 private:
  void check_context(const int32_t* ctx, int t, int h, int w) const;

  IntNet net_;
  int channels_;
  int planes_;
};

}  // namespace tvc
