// Token mask patterns: which tokens of a GoP are sent (kept) and which the
// decoder's predictor fills in. Pure integer functions of the pattern id and
// the token position, so encoder and decoder always agree; the id travels in
// the GoP header (docs/bitstream.md, mask_pattern).
//
// Latent frame 0 (the GoP's first frame, coded on its own) is always kept
// whole; the patterns drop tokens of later latent frames, which the previous
// latent frame and the kept neighbours predict best:
//
//   0  none            everything kept
//   1  quarter         drop (y odd and x odd)              25 % of later frames
//   2  half            drop (y + x odd)                    50 %
//   3  three-quarters  keep only (y even and x even)       75 %
#pragma once

#include <cstdint>

namespace tvc {

constexpr int kNumMaskPatterns = 4;

inline bool valid_mask_pattern(int pattern) { return pattern >= 0 && pattern < kNumMaskPatterns; }

// Caller guarantees valid_mask_pattern(pattern).
inline bool token_kept(int pattern, int frame, int y, int x) {
  if (frame == 0) return true;
  switch (pattern) {
    case 1: return !((y & 1) && (x & 1));
    case 2: return ((y + x) & 1) == 0;
    case 3: return !(y & 1) && !(x & 1);
    default: return true;
  }
}

}  // namespace tvc
