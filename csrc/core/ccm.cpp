#include "ccm.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "bytes.hpp"

#include "mask.hpp"
#include "status.hpp"

namespace tvc {

namespace {

constexpr int kMaxLevels = 256;
constexpr uint8_t kIntNetMagic[4] = {'T', 'V', 'C', 'N'};
constexpr uint8_t kContainerMagic[4] = {'T', 'V', 'C', 'M'};
constexpr uint16_t kContainerVersion = 2;

void check_grid(int t, int h, int w, int pattern) {
  check_token_grid(t, h, w);
  if (!valid_mask_pattern(pattern))
    fail(TVC_EINVALIDDATA, "unknown token mask pattern " + std::to_string(pattern));
}

void check_levels(const std::vector<int>& levels) {
  if (levels.empty() || levels.size() > 16) fail(TVC_EINVAL, "CCM needs 1..16 FSQ levels");
  for (int L : levels)
    if (L < 2 || L > kMaxLevels) fail(TVC_EINVAL, "FSQ levels must be 2..256");
}

// Digit head d reads the trunk's `features` planes and the one-hot blocks of
// digits 0..d-1, and gives levels[d] logits (docs/ccm.md, "Digit heads").
void check_head_shape(const std::vector<int>& levels, int features, int d, int cin, int cout) {
  int want_cin = features;
  for (int e = 0; e < d; ++e) want_cin += levels[static_cast<std::size_t>(e)];
  const int want_cout = levels[static_cast<std::size_t>(d)];
  if (want_cin > kMaxChannels)
    fail(TVC_EINVALIDDATA, "CCM digit head " + std::to_string(d) + " would take " + std::to_string(want_cin) +
                               " inputs, over the limit of " + std::to_string(kMaxChannels));
  if (cin != want_cin || cout != want_cout)
    fail(TVC_EINVALIDDATA, "CCM digit head " + std::to_string(d) + " is " + std::to_string(cin) + " -> " +
                               std::to_string(cout) + " channels, the trunk and levels need " +
                               std::to_string(want_cin) + " -> " + std::to_string(want_cout));
}

}  // namespace

void check_token_grid(int t, int h, int w) {
  if (t < 1 || h < 1 || w < 1) fail(TVC_EINVAL, "token grid sizes must be positive");
  if (h > kMaxGridSide || w > kMaxGridSide || int64_t{t} * h * w > kMaxGridPositions)
    fail(TVC_ELIMIT, "token grid " + std::to_string(t) + "x" + std::to_string(h) + "x" + std::to_string(w) +
                         " is over the limit of " + std::to_string(kMaxGridSide) + " a side and 2^24 positions");
}

CheckerboardCoder::CheckerboardCoder(IntNet net, std::vector<int> levels)
    : CheckerboardCoder(std::move(net), std::move(levels), 1, {}) {}

CheckerboardCoder::CheckerboardCoder(IntNet trunk, std::vector<int> levels, int prev_frames,
                                     std::vector<IntConv> heads)
    : net_(std::move(trunk)), levels_(std::move(levels)), prev_frames_(prev_frames), heads_(std::move(heads)) {
  check_levels(levels_);
  int total = 0;
  for (int L : levels_) {
    offsets_.push_back(total);
    total += L;
  }
  if (prev_frames_ != 1 && prev_frames_ != 2)
    fail(TVC_EINVALIDDATA, "CCM prev_frames must be 1 or 2, got " + std::to_string(prev_frames_));
  if (net_.in_channels() != context_channels())
    fail(TVC_EINVALIDDATA, "CCM net takes " + std::to_string(net_.in_channels()) +
                               " context planes, the levels need " + std::to_string(context_channels()));
  const bool hidden_last = net_.layers().back().relu;
  if (heads_.empty()) {
    if (hidden_last) fail(TVC_EINVALIDDATA, "CCM trunk without digit heads must end in a logit layer");
    if (net_.out_channels() != total)
      fail(TVC_EINVALIDDATA, "CCM net gives " + std::to_string(net_.out_channels()) +
                                 " logit planes, the levels need " + std::to_string(total));
    return;
  }
  if (!hidden_last) fail(TVC_EINVALIDDATA, "CCM trunk with digit heads must end in a hidden (ReLU) layer");
  if (heads_.size() != levels_.size())
    fail(TVC_EINVALIDDATA, "CCM has " + std::to_string(heads_.size()) + " digit heads, the levels need " +
                               std::to_string(levels_.size()));
  for (std::size_t d = 0; d < heads_.size(); ++d) {
    const IntConv& H = heads_[d];
    check_head_shape(levels_, net_.out_channels(), static_cast<int>(d), H.cin, H.cout);
    const std::size_t n = static_cast<std::size_t>(H.cout);
    if (H.kernel != 1 || H.relu || H.weight.size() != n * static_cast<std::size_t>(H.cin) || H.bias.size() != n ||
        H.mult.size() != n || H.shift.size() != n)
      fail(TVC_EINVALIDDATA, "CCM digit head " + std::to_string(d) + " is not a 1x1 logit layer");
  }
}

CheckerboardCoder CheckerboardCoder::parse(const uint8_t* data, std::size_t size, std::vector<int> levels) {
  if (size >= 4 && std::memcmp(data, kIntNetMagic, 4) == 0)
    return CheckerboardCoder(IntNet::parse(data, size), std::move(levels));  // CCM v1
  ByteReader r(data, size, "CCM model blob");
  if (size < 4 || std::memcmp(r.bytes(4), kContainerMagic, 4) != 0)
    fail(TVC_EINVALIDDATA, "not a CCM model blob (magic: expected TVCM or TVCN)");
  const uint16_t version = r.u16();
  if (version != kContainerVersion)
    fail(TVC_EINVALIDDATA, "CCM model blob version " + std::to_string(version) + " not supported (expected 2)");
  const uint8_t prev_frames = r.u8();
  if (prev_frames != 1 && prev_frames != 2)
    fail(TVC_EINVALIDDATA, "CCM model blob prev_frames " + std::to_string(prev_frames) + " (must be 1 or 2)");
  const uint8_t heads_flag = r.u8();
  if (heads_flag > 1)
    fail(TVC_EINVALIDDATA, "CCM model blob digit_heads flag " + std::to_string(heads_flag) + " (must be 0 or 1)");
  const uint32_t trunk_size = r.u32();
  if (trunk_size > r.left())
    fail(TVC_ETRUNCATED, "CCM model blob trunk length " + std::to_string(trunk_size) + " is over the " +
                             std::to_string(r.left()) + " bytes left");
  IntNet trunk = IntNet::parse(r.bytes(trunk_size), trunk_size,
                               heads_flag == 1 ? IntNet::LastLayer::kHidden : IntNet::LastLayer::kLogits);
  if (heads_flag == 0) {
    if (r.left() != 0) fail(TVC_EINVALIDDATA, "bytes after the CCM trunk (the blob has no digit heads)");
    return CheckerboardCoder(std::move(trunk), std::move(levels), prev_frames, {});
  }
  // The heads' shapes follow from the trunk and the levels: check each one
  // before reading (and allocating) its parameters.
  check_levels(levels);
  std::vector<IntConv> heads;
  for (std::size_t d = 0; d < levels.size(); ++d) {
    IntConv H;
    H.cin = r.u16();
    H.cout = r.u16();
    H.kernel = 1;
    H.relu = false;
    check_head_shape(levels, trunk.out_channels(), static_cast<int>(d), H.cin, H.cout);
    read_layer_params(r, H, "CCM digit head " + std::to_string(d));
    heads.push_back(std::move(H));
  }
  if (r.left() != 0) fail(TVC_EINVALIDDATA, "bytes after the last CCM digit head");
  return CheckerboardCoder(std::move(trunk), std::move(levels), prev_frames, std::move(heads));
}
std::vector<uint8_t> CheckerboardCoder::serialize_v2() const {
  ByteWriter w;
  w.bytes(kContainerMagic, 4);
  w.u16(kContainerVersion);
  w.u8(static_cast<uint8_t>(prev_frames_));
  w.u8(heads_.empty() ? 0 : 1);
  const std::vector<uint8_t> trunk = net_.serialize();
  w.u32(static_cast<uint32_t>(trunk.size()));
  w.bytes(trunk.data(), trunk.size());
  for (const IntConv& H : heads_) {
    w.u16(static_cast<uint16_t>(H.cin));
    w.u16(static_cast<uint16_t>(H.cout));
    write_layer_params(w, H);
  }
  return w.buffer();
}

void CheckerboardCoder::context(const int32_t* digits, int f, int pass, int h, int w, int pattern,
                                int32_t* planes) const {
  const int D = dims();
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  std::fill(planes, planes + plane * static_cast<std::size_t>(context_channels()), 0);
  const std::size_t frame = plane * static_cast<std::size_t>(D);
  // Block k - 1 (D digit planes, then the "exists and kept" plane) holds frame f - k.
  for (int k = 1; k <= prev_frames_ && f - k >= 0; ++k) {
    const int32_t* prev = digits + static_cast<std::size_t>(f - k) * frame;
    int32_t* block = planes + static_cast<std::size_t>((k - 1) * (D + 1)) * plane;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        if (!token_kept(pattern, f - k, y, x)) continue;
        const std::size_t p = static_cast<std::size_t>(y) * w + x;
        for (int d = 0; d < D; ++d)
          block[static_cast<std::size_t>(d) * plane + p] = 2 * prev[p * D + d] - (levels_[d] - 1);
        block[static_cast<std::size_t>(D) * plane + p] = 127;
      }
  }
  if (pass == 1) {
    const int32_t* cur = digits + static_cast<std::size_t>(f) * frame;
    int32_t* block = planes + static_cast<std::size_t>(prev_frames_ * (D + 1)) * plane;
    for (int y = 0; y < h; ++y)
      for (int x = (y & 1); x < w; x += 2) {  // anchors: (y + x) even
        if (!token_kept(pattern, f, y, x)) continue;
        const std::size_t p = static_cast<std::size_t>(y) * w + x;
        for (int d = 0; d < D; ++d)
          block[static_cast<std::size_t>(d) * plane + p] = 2 * cur[p * D + d] - (levels_[d] - 1);
        block[static_cast<std::size_t>(D) * plane + p] = 127;
      }
  }
}

template <typename CodeDigit>
void CheckerboardCoder::run_passes(const int32_t* digits, int t, int h, int w, int pattern,
                                   CodeDigit&& code) const {
  const int D = dims();
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  const int features = net_.out_channels();  // logit planes, or the heads' feature planes
  std::vector<int32_t> ctx(plane * static_cast<std::size_t>(context_channels()));
  std::vector<int32_t> trunk_out(plane * static_cast<std::size_t>(features));
  // Head d's input is a prefix of one vector: [features; one-hot of digit 0; ...; digit D-2].
  std::vector<int32_t> head_in(heads_.empty() ? 0 : static_cast<std::size_t>(features + offsets_.back()));
  // The trunk only computes what this pass codes (and what that reaches).
  std::vector<uint8_t> coded(plane);
  int32_t row[kMaxLevels];
  for (int f = 0; f < t; ++f) {
    for (int pass = 0; pass < 2; ++pass) {
      context(digits, f, pass, h, w, pattern, ctx.data());
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          coded[static_cast<std::size_t>(y) * w + x] = ((y + x + pass) & 1) == 0 && token_kept(pattern, f, y, x);
      net_.run(ctx.data(), h, w, trunk_out.data(), coded.data());
      for (int y = 0; y < h; ++y)
        for (int x = ((y + pass) & 1); x < w; x += 2) {
          if (!token_kept(pattern, f, y, x)) continue;
          const std::size_t p = static_cast<std::size_t>(y) * w + x;
          const std::size_t first = (static_cast<std::size_t>(f) * plane + p) * static_cast<std::size_t>(D);
          if (!heads_.empty())
            for (int c = 0; c < features; ++c) head_in[static_cast<std::size_t>(c)] = trunk_out[c * plane + p];
          for (int d = 0; d < D; ++d) {
            const auto n = static_cast<std::size_t>(levels_[d]);
            if (heads_.empty()) {
              for (std::size_t j = 0; j < n; ++j) row[j] = trunk_out[(offsets_[d] + j) * plane + p];
            } else {
              run_1x1(heads_[static_cast<std::size_t>(d)], head_in.data(), row);
            }
            const int32_t v = code(first + static_cast<std::size_t>(d), row, n);
            if (!heads_.empty() && d + 1 < D) {
              int32_t* onehot = head_in.data() + features + offsets_[d];
              std::fill(onehot, onehot + n, 0);
              onehot[v] = 127;
            }
          }
        }
    }
  }
}

void CheckerboardCoder::encode(const int32_t* digits, int t, int h, int w, int pattern,
                               RansEncoder& enc) const {
  if (!valid_mask_pattern(pattern)) fail(TVC_EINVAL, "unknown token mask pattern " + std::to_string(pattern));
  check_grid(t, h, w, pattern);
  const int D = dims();
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
  run_passes(digits, t, h, w, pattern, [&](std::size_t i, const int32_t* row, std::size_t n) {
    enc.encode_logit_row(digits[i], row, n);
    return digits[i];
  });
}

void CheckerboardCoder::decode(RansDecoder& dec, int t, int h, int w, int pattern,
                               int32_t* digits) const {
  check_grid(t, h, w, pattern);
  // The context of later frames and passes reads the digits written here.
  run_passes(digits, t, h, w, pattern, [&](std::size_t i, const int32_t* row, std::size_t n) {
    digits[i] = dec.decode_logit_row(row, n);
    return digits[i];
  });
}

}  // namespace tvc
