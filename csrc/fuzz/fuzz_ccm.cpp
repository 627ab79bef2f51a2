// Fuzz target: the discrete checkerboard context model (CCM v2, docs/ccm.md)
// on arbitrary bytes, in two modes chosen by the first byte:
//
// - bit 7 set: the rest is a CCM model blob ("TVCN" v1 or "TVCM" v2) parsed
//   for levels 8, 5, 5; a blob that parses then decodes a 1x2x2 grid from an
//   empty stream (which must be refused).
// - bit 7 clear: the rest is a token stream. Byte 0 picks the model: bits 0-1
//   the latent frames (1..3), bit 2 prev_frames K (1 or 2), bit 3 digit heads;
//   bytes 1-3 the height and width (1..6) and the mask pattern; from byte 4 on
//   the rANS stream. The model is fixed and built here (fuzz_model), so the
//   heads' logits depend on the decoded earlier digits and the trunk's on the
//   previous frames and the anchors.
//
// Either way the code must end in tvc::Error or a clean result, never read out
// of bounds, overflow or loop. Seeds: csrc/fuzz/make_ccm_seeds.py (builds the
// same models in Python) -> tests/corpus/ccm.
#include <cstdint>
#include <vector>

#include "../core/bytes.hpp"
#include "../core/ccm.hpp"
#include "../core/mask.hpp"
#include "../core/rans.hpp"
#include "../core/status.hpp"
#include "../tests/test_blobs.hpp"

namespace {

const std::vector<int> kLevels = {8, 5, 5};
constexpr int kFeatures = 4;  // trunk output planes when the model has digit heads

// Weights ((o * 7 + i) % 5) - 2, bias 0, multiplier 1, shift 1: the
// accumulator halved, so hidden features and logits follow the inputs.
void put_params(tvc::ByteWriter& w, int cin, int cout) {
  for (int o = 0; o < cout; ++o)
    for (int i = 0; i < cin; ++i) w.u8(static_cast<uint8_t>(static_cast<int8_t>((o * 7 + i) % 5 - 2)));
  for (int o = 0; o < cout; ++o) w.u32(0);
  for (int o = 0; o < cout; ++o) w.u32(1);
  for (int o = 0; o < cout; ++o) w.u8(1);
}

// The v2 container: a one-layer 1x1 trunk (context planes -> logits, or ->
// kFeatures hidden planes with heads), then the 1x1 digit heads.
std::vector<uint8_t> fuzz_model(int prev_frames, bool heads) {
  const int dims = static_cast<int>(kLevels.size());
  const int cin = prev_frames * (dims + 1) + dims + 1;
  const int cout = heads ? kFeatures : 8 + 5 + 5;
  tvc::ByteWriter trunk;
  tvc::test_blobs::net_header(trunk, 1);
  tvc::test_blobs::layer_header(trunk, cin, cout, 1, heads);
  put_params(trunk, cin, cout);
  tvc::ByteWriter w;
  tvc::test_blobs::ccm_header(w, prev_frames, heads, trunk.buffer());
  int head_in = kFeatures;
  for (int d = 0; heads && d < dims; ++d) {
    const int levels = kLevels[static_cast<std::size_t>(d)];
    tvc::test_blobs::head_header(w, head_in, levels);
    put_params(w, head_in, levels);
    head_in += levels;
  }
  return w.buffer();
}

void decode(const tvc::CheckerboardCoder& coder, const uint8_t* data, std::size_t size, int t, int h, int w,
            int pattern) {
  std::vector<int32_t> digits(static_cast<std::size_t>(t) * h * w * kLevels.size(), -1);
  tvc::RansDecoder dec(data, size, 16);
  coder.decode(dec, t, h, w, pattern, digits.data());
  dec.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  try {
    if (data[0] & 0x80) {
      const auto coder = tvc::CheckerboardCoder::parse(data + 1, size - 1, kLevels);
      decode(coder, data, 0, 1, 2, 2, 0);
      return 0;
    }
    if (size < 4) return 0;
    const int t = 1 + (data[0] & 3) % 3, prev_frames = 1 + ((data[0] >> 2) & 1);
    const bool heads = (data[0] >> 3) & 1;
    const int h = 1 + data[1] % 6, w = 1 + data[2] % 6, pattern = data[3] % tvc::kNumMaskPatterns;
    const auto blob = fuzz_model(prev_frames, heads);
    const auto coder = tvc::CheckerboardCoder::parse(blob.data(), blob.size(), kLevels);
    decode(coder, data + 4, size - 4, t, h, w, pattern);
  } catch (const tvc::Error&) {
  }
  return 0;
}
