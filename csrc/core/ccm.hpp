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
// Each digit is coded with logits from an IntNet over context planes
// (2D + 2 channels, all in [-127, 127]):
//   [0, D)        previous latent frame's kept digits, as 2*d - (levels-1); else 0
//   D             127 where the previous latent frame's token is kept, else 0
//   [D+1, 2D+1)   this frame's kept anchor digits, in the second pass only
//   2D+1          127 at kept anchor positions in the second pass, else 0
// The net outputs sum(levels) logit planes: digit d of a position uses the
// levels[d] planes starting at levels[0] + ... + levels[d-1].
// Everything is integer, so encoder and decoder derive identical CDFs.
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
  CheckerboardCoder(IntNet net, std::vector<int> levels);

  int dims() const { return static_cast<int>(levels_.size()); }
  int context_channels() const { return 2 * dims() + 2; }
  const IntNet& net() const { return net_; }

  // digits: t x h x w x D, row-major. Dropped positions are ignored by
  // encode and left untouched by decode.
  void encode(const int32_t* digits, int t, int h, int w, int pattern, RansEncoder& enc) const;
  void decode(RansDecoder& dec, int t, int h, int w, int pattern, int32_t* digits) const;

  // Context planes (context_channels x h x w) of latent frame f, pass p (0 =
  // anchors, 1 = the rest) from the digits known at that point.
  void context(const int32_t* digits, int f, int pass, int h, int w, int pattern,
               int32_t* planes) const;

 private:
  // Gathers the logits of digit d at position p (planes of `plane` values) into row.
  const int32_t* logit_row(const int32_t* logits, std::size_t plane, std::size_t p, int d,
                           int32_t* row) const;

  IntNet net_;
  std::vector<int> levels_;
  std::vector<int> offsets_;  // first logit plane of each digit
};

}  // namespace tvc
