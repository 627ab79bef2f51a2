// Fuzz target: the rANS decode path on arbitrary bytes, with a small fixed
// CDF table (escape enabled), per-position CDFs built from the input, logits
// and raw bits. Decoding must end in tvc::Error or a clean result, never read
// out of bounds or loop.
#include <cstdint>
#include <vector>

#include "../core/cdf.hpp"
#include "../core/rans.hpp"
#include "../core/status.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // First byte picks the mode and symbol count; the rest is the stream.
  const uint8_t mode = data[0] % 4;
  const std::size_t count = 1 + data[1] % 64;
  const uint8_t* stream = data + 2;
  const std::size_t stream_size = size - 2;
  static const int32_t cdfs[2][5] = {{0, 30000, 50000, 60000, 65536}, {0, 1, 2, 3, 65536}};
  static const int32_t sizes[2] = {4, 4};
  static const int32_t offsets[2] = {-1, 7};
  try {
    tvc::RansDecoder dec(stream, stream_size, 16);
    std::vector<int32_t> out(count);
    if (mode == 0) {
      tvc::CdfTable table(&cdfs[0][0], 2, 5, sizes, offsets, 16, true);
      std::vector<int32_t> idx(count);
      for (std::size_t k = 0; k < count; ++k) idx[k] = static_cast<int32_t>(k % 2);
      dec.decode_indexed(idx.data(), count, table, out.data());
    } else if (mode == 1) {
      std::vector<uint32_t> counts(count * 7);
      for (std::size_t k = 0; k < counts.size(); ++k) counts[k] = static_cast<uint32_t>(k * 2654435761u);
      dec.decode_counts(counts.data(), count, 7, out.data());
    } else if (mode == 2) {
      std::vector<int32_t> logits(count * 300);
      for (std::size_t k = 0; k < logits.size(); ++k)
        logits[k] = static_cast<int32_t>((k * 40503u) % 1000) - 500;
      dec.decode_logits(logits.data(), count, 300, out.data());
    } else {
      for (std::size_t k = 0; k < count; ++k) out[k] = static_cast<int32_t>(dec.get_bits(static_cast<int>(k % 33)));
    }
    dec.finish();
  } catch (const tvc::Error&) {
  }
  return 0;
}
