// Fuzz target: the continuous checkerboard decoder on arbitrary bytes, with the
// caller planes the codec feeds it (codec/continuous.py, docs/bitstream.md,
// "Continuous substream"): one plane per FSQ digit of a token grid (levels
// 8, 5, 5, 5, spread over [-127, 127]) and the step plane. The first 6 bytes
// pick the latent shape (channels 1..3, frames 1..3, height and width 1..8),
// the step plane value (int8, clamped to [-127, 127]) and the token grid
// (token k = (37 k + 101 seed) mod 1000); the rest is the rANS stream. The net
// is a fixed 1x1 layer built here, so the scale and mean depend on the token
// planes, the step, the decoded anchors and the previous frame. Decoding must
// end in tvc::Error or a clean result, never read out of bounds, overflow or loop.
// Seeds: csrc/fuzz/make_continuous_seeds.py (builds the same net in Python).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../core/bytes.hpp"
#include "../core/continuous.hpp"
#include "../core/intnet.hpp"
#include "../core/rans.hpp"
#include "../core/status.hpp"
#include "../tests/test_blobs.hpp"

namespace {

constexpr int kLevels[] = {8, 5, 5, 5};
constexpr int kDigits = 4;
constexpr int kPlanes = kDigits + 1;  // digits + step plane, as the codec

// One 1x1 logit layer, cin = kPlanes + 2C + 2, cout = 2C: weight ((o + i) % 3) - 1,
// bias 480 on the scale outputs (index 15 before the context moves it) and 0
// on the means, multiplier 1, shift 1 (halves the accumulator).
tvc::IntNet fuzz_net(int channels) {
  const int cin = kPlanes + 2 * channels + 2, cout = 2 * channels;
  tvc::ByteWriter w;
  tvc::test_blobs::net_header(w, 1);
  tvc::test_blobs::layer_header(w, cin, cout, 1, false);
  for (int o = 0; o < cout; ++o)
    for (int i = 0; i < cin; ++i) w.u8(static_cast<uint8_t>(static_cast<int8_t>((o + i) % 3 - 1)));
  for (int o = 0; o < cout; ++o) w.u32(o < channels ? 480u : 0u);
  for (int o = 0; o < cout; ++o) w.u32(1u);
  for (int o = 0; o < cout; ++o) w.u8(1);
  return tvc::IntNet::parse(w.buffer().data(), w.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const int c = 1 + data[0] % 3, t = 1 + data[1] % 3, h = 1 + data[2] % 8, w = 1 + data[3] % 8;
  const int step_plane = std::max(-127, static_cast<int>(static_cast<int8_t>(data[4])));
  const std::size_t seed = data[5];
  try {
    const tvc::ContinuousCheckerboardCoder coder(fuzz_net(c), c, kPlanes);
    const std::size_t n = static_cast<std::size_t>(t) * h * w;
    std::vector<int32_t> ctx(kPlanes * n);
    for (std::size_t k = 0; k < n; ++k) {
      int index = static_cast<int>((37 * k + 101 * seed) % 1000);
      for (int d = 0; d < kDigits; ++d) {
        const int top = kLevels[d] - 1, digit = index % kLevels[d];
        index /= kLevels[d];
        // floor((2 digit - top) * 127 / top): the numerator may be negative.
        const int num = (2 * digit - top) * 127;
        ctx[d * n + k] = num >= 0 ? num / top : -((-num + top - 1) / top);
      }
      ctx[kDigits * n + k] = step_plane;
    }
    std::vector<int32_t> latent(static_cast<std::size_t>(c) * t * h * w, 0);
    tvc::RansDecoder dec(data + 6, size - 6, tvc::kContinuousPrecision);
    coder.decode(dec, ctx.data(), t, h, w, latent.data());
    dec.finish();
  } catch (const tvc::Error&) {
  }
  return 0;
}
