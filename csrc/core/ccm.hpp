// Discrete checkerboard context model (CCM) for FSQ token grids.
//
// A GoP's tokens are T latent frames of H x W positions, each token split into
// D FSQ digits (digit d in [0, levels[d])). Coding order: latent frame by
// latent frame; within a frame two passes, anchors ((y + x) even) first, then
// the rest; within a pass raster order; within a position digit 0..D-1.
//
// Only the tokens a mask pattern keeps (mask.hpp) are coded; dropped tokens
// are never used as context (the decoder has them only after prediction).
//
// Each digit is coded with logits from integer nets over context planes
// (K(D + 1) + D + 1 channels, all in [-127, 127]; K = prev_frames, 1 or 2):
//   for k = 1..K, block k - 1 of D + 1 planes:
//     D planes   latent frame f-k's kept digits, as 2*d - (levels-1); else 0
//     1 plane    127 where latent frame f-k exists and its token is kept, else 0
//   then D planes  this frame's kept anchor digits, in the second pass only
//   then 1 plane   127 at kept anchor positions in the second pass, else 0
// K = 1 is the original (CCM v1) layout of 2D + 2 planes.
//
// Without digit heads the trunk IntNet outputs sum(levels) logit planes:
// digit d of a position uses the levels[d] planes starting at levels[0] + ...
// + levels[d-1]. With digit heads the trunk ends in F hidden feature planes
// and head d (a 1x1 logit layer) maps [the position's F features; one-hot
// blocks (127 at the digit) of its digits 0..d-1] to levels[d] logits, so the
// later digits of a token are conditioned on its earlier ones.
// Everything is integer, so encoder and decoder derive identical CDFs.
//
// Model blobs (docs/ccm.md): a bare "TVCN" IntNet blob is CCM v1 (K = 1, no
// heads); a "TVCM" v2 container carries K, the heads flag, the trunk and heads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "intnet.hpp"
#include "rans.hpp"

namespace tvc {

// Largest token grid the coder accepts: 1024 positions a side (a 16384-pixel
// picture at 16x, the bitstream's limit) and 2^24 positions in all. Checked
// before anything is allocated for a grid, so a hostile packet that claims a
// huge GoP is refused with TVC_ELIMIT at no cost.
constexpr int kMaxGridSide = 1024;
constexpr int64_t kMaxGridPositions = int64_t{1} << 24;

// Throws TVC_EINVAL for a non-positive size, TVC_ELIMIT for one over the limits above.
void check_token_grid(int t, int h, int w);

class CheckerboardCoder {
 public:
  // CCM v1: the net is the whole model (K = 1, no digit heads).
  CheckerboardCoder(IntNet net, std::vector<int> levels);
  // Any CCM: heads empty for none, else one 1x1 logit layer per digit and a
  // trunk whose last layer is hidden. Throws TVC_EINVALIDDATA when the shapes
  // do not fit the levels, TVC_EINVAL for bad levels.
  CheckerboardCoder(IntNet trunk, std::vector<int> levels, int prev_frames, std::vector<IntConv> heads);

  // Parses a model blob, v1 ("TVCN") or v2 ("TVCM"), for these levels;
  // TVC_EINVALIDDATA (or TVC_ETRUNCATED for short data) naming the bad field.
  static CheckerboardCoder parse(const uint8_t* data, std::size_t size, std::vector<int> levels);
  // The v2 container of this model (written for every model, v1 ones too).
  std::vector<uint8_t> serialize_v2() const;

  int dims() const { return static_cast<int>(levels_.size()); }
  int prev_frames() const { return prev_frames_; }
  bool digit_heads() const { return !heads_.empty(); }
  int context_channels() const { return prev_frames_ * (dims() + 1) + dims() + 1; }
  const IntNet& net() const { return net_; }
  const std::vector<IntConv>& heads() const { return heads_; }

  // digits: t x h x w x D, row-major. Dropped positions are ignored by
  // encode and left untouched by decode.
  void encode(const int32_t* digits, int t, int h, int w, int pattern, RansEncoder& enc) const;
  void decode(RansDecoder& dec, int t, int h, int w, int pattern, int32_t* digits) const;

  // Context planes (context_channels x h x w) of latent frame f, pass p (0 =
  // anchors, 1 = the rest) from the digits known at that point.
  void context(const int32_t* digits, int f, int pass, int h, int w, int pattern,
               int32_t* planes) const;

 private:
  // Codes (encoder) or decodes every kept digit of a grid in coding order.
  template <typename CodeDigit>
  void run_passes(const int32_t* digits, int t, int h, int w, int pattern, CodeDigit&& code) const;

  IntNet net_;
  std::vector<int> levels_;
  std::vector<int> offsets_;  // first logit plane (no heads) / one-hot offset (heads) of each digit
  int prev_frames_ = 1;
  std::vector<IntConv> heads_;
};

}  // namespace tvc
