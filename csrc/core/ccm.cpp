#include "ccm.hpp"

#include <string>

#include "mask.hpp"
#include "status.hpp"

namespace tvc {

namespace {

constexpr int kMaxLevels = 256;

void check_grid(int t, int h, int w, int pattern) {
  check_token_grid(t, h, w);
  if (!valid_mask_pattern(pattern))
    fail(TVC_EINVALIDDATA, "unknown token mask pattern " + std::to_string(pattern));
}

}  // namespace

void check_token_grid(int t, int h, int w) {
  if (t < 1 || h < 1 || w < 1) fail(TVC_EINVAL, "token grid sizes must be positive");
  if (h > kMaxGridSide || w > kMaxGridSide || int64_t{t} * h * w > kMaxGridPositions)
    fail(TVC_ELIMIT, "token grid " + std::to_string(t) + "x" + std::to_string(h) + "x" + std::to_string(w) +
                         " is over the limit of " + std::to_string(kMaxGridSide) + " a side and 2^24 positions");
}

CheckerboardCoder::CheckerboardCoder(IntNet net, std::vector<int> levels)
    : net_(std::move(net)), levels_(std::move(levels)) {
  if (levels_.empty() || levels_.size() > 16) fail(TVC_EINVAL, "CCM needs 1..16 FSQ levels");
  int total = 0;
  for (int L : levels_) {
    if (L < 2 || L > kMaxLevels) fail(TVC_EINVAL, "FSQ levels must be 2..256");
    offsets_.push_back(total);
    total += L;
  }
  if (net_.in_channels() != context_channels())
    fail(TVC_EINVALIDDATA, "CCM net takes " + std::to_string(net_.in_channels()) +
                               " context planes, the levels need " + std::to_string(context_channels()));
  if (net_.out_channels() != total)
    fail(TVC_EINVALIDDATA, "CCM net gives " + std::to_string(net_.out_channels()) +
                               " logit planes, the levels need " + std::to_string(total));
}

void CheckerboardCoder::context(const int32_t* digits, int f, int pass, int h, int w, int pattern,
                                int32_t* planes) const {
  const int D = dims();
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  std::fill(planes, planes + plane * static_cast<std::size_t>(context_channels()), 0);
  const std::size_t frame = plane * static_cast<std::size_t>(D);
  if (f > 0) {
    const int32_t* prev = digits + static_cast<std::size_t>(f - 1) * frame;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        if (!token_kept(pattern, f - 1, y, x)) continue;
        const std::size_t p = static_cast<std::size_t>(y) * w + x;
        for (int d = 0; d < D; ++d)
          planes[static_cast<std::size_t>(d) * plane + p] = 2 * prev[p * D + d] - (levels_[d] - 1);
        planes[static_cast<std::size_t>(D) * plane + p] = 127;
      }
  }
  if (pass == 1) {
    const int32_t* cur = digits + static_cast<std::size_t>(f) * frame;
    for (int y = 0; y < h; ++y)
      for (int x = (y & 1); x < w; x += 2) {  // anchors: (y + x) even
        if (!token_kept(pattern, f, y, x)) continue;
        const std::size_t p = static_cast<std::size_t>(y) * w + x;
        for (int d = 0; d < D; ++d)
          planes[static_cast<std::size_t>(D + 1 + d) * plane + p] = 2 * cur[p * D + d] - (levels_[d] - 1);
        planes[static_cast<std::size_t>(2 * D + 1) * plane + p] = 127;
      }
  }
}

const int32_t* CheckerboardCoder::logit_row(const int32_t* logits, std::size_t plane, std::size_t p,
                                            int d, int32_t* row) const {
  for (int j = 0; j < levels_[d]; ++j) row[j] = logits[static_cast<std::size_t>(offsets_[d] + j) * plane + p];
  return row;
}

void CheckerboardCoder::encode(const int32_t* digits, int t, int h, int w, int pattern,
                               RansEncoder& enc) const {
  if (!valid_mask_pattern(pattern)) fail(TVC_EINVAL, "unknown token mask pattern " + std::to_string(pattern));
  check_grid(t, h, w, pattern);
  const int D = dims();
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  for (int f = 0; f < t; ++f)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        if (!token_kept(pattern, f, y, x)) continue;
        const std::size_t k = (static_cast<std::size_t>(f) * h + y) * w + x;
        for (int d = 0; d < D; ++d) {
          const int32_t v = digits[k * D + d];
          if (v < 0 || v >= levels_[d]) fail(TVC_EINVAL, "token digit outside its FSQ level range");
        }
      }
  std::vector<int32_t> ctx(plane * static_cast<std::size_t>(context_channels()));
  std::vector<int32_t> logits(plane * static_cast<std::size_t>(net_.out_channels()));
  int32_t row[kMaxLevels];
  for (int f = 0; f < t; ++f) {
    const int32_t* cur = digits + static_cast<std::size_t>(f) * plane * D;
    for (int pass = 0; pass < 2; ++pass) {
      context(digits, f, pass, h, w, pattern, ctx.data());
      net_.run(ctx.data(), h, w, logits.data());
      for (int y = 0; y < h; ++y)
        for (int x = ((y + pass) & 1); x < w; x += 2) {
          if (!token_kept(pattern, f, y, x)) continue;
          const std::size_t p = static_cast<std::size_t>(y) * w + x;
          for (int d = 0; d < D; ++d)
            enc.encode_logit_row(cur[p * D + d], logit_row(logits.data(), plane, p, d, row),
                                 static_cast<std::size_t>(levels_[d]));
        }
    }
  }
}

void CheckerboardCoder::decode(RansDecoder& dec, int t, int h, int w, int pattern,
                               int32_t* digits) const {
  check_grid(t, h, w, pattern);
  const int D = dims();
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  std::vector<int32_t> ctx(plane * static_cast<std::size_t>(context_channels()));
  std::vector<int32_t> logits(plane * static_cast<std::size_t>(net_.out_channels()));
  int32_t row[kMaxLevels];
  for (int f = 0; f < t; ++f) {
    int32_t* cur = digits + static_cast<std::size_t>(f) * plane * D;
    for (int pass = 0; pass < 2; ++pass) {
      context(digits, f, pass, h, w, pattern, ctx.data());
      net_.run(ctx.data(), h, w, logits.data());
      for (int y = 0; y < h; ++y)
        for (int x = ((y + pass) & 1); x < w; x += 2) {
          if (!token_kept(pattern, f, y, x)) continue;
          const std::size_t p = static_cast<std::size_t>(y) * w + x;
          for (int d = 0; d < D; ++d)
            cur[p * D + d] = dec.decode_logit_row(logit_row(logits.data(), plane, p, d, row),
                                                  static_cast<std::size_t>(levels_[d]));
        }
    }
  }
}

}  // namespace tvc
