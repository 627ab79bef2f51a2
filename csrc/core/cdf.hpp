// Integer-only construction of quantized CDFs.
//
// Everything here decides what the entropy decoder reads, so it uses integer
// arithmetic only: encoder and decoder, on any CPU or OS, build bit-identical
// CDFs from the same integers (docs/determinism.md).
//
// A CDF for an alphabet of n symbols is n + 1 integers c[0..n] with c[0] = 0,
// c[n] = 1 << precision and c[s] < c[s + 1]: every symbol keeps a nonzero
// probability, so every symbol can always be coded.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tvc {

constexpr int kMaxPrecision = 16;

// Logits are fixed-point natural-log units: one LSB is 1/16 nat.
constexpr int kLogitFracBits = 4;
// Logits more than this many LSBs below the maximum get the minimum frequency.
constexpr int kLogitRange = 320;  // 20 nats: exp(-20) * 2^30 < 3

// Checks that precision is in [1, kMaxPrecision] and that n symbols fit in it
// (n <= 1 << precision); throws tvc::Error(TVC_EINVAL) otherwise.
void check_alphabet(std::size_t n, int precision);

// The rule that turns counts (any scale; all zero allowed) into frequencies
// summing to 2^precision, without materialising the CDF (the coder's fast
// path uses it directly; pmf_to_cdf builds the CDF from it):
//
//   scale  = floor((2^precision - n) * 2^32 / sum(counts))
//   freq_i = 1 + floor(counts_i * scale / 2^32)
//
// and the rounding remainder goes to the first symbol with the largest count.
// All-zero counts give a uniform distribution (remainder to symbol 0). One
// division per distribution instead of one per symbol.
class CountQuantizer {
 public:
  CountQuantizer(const uint32_t* counts, std::size_t n, int precision) : counts_(counts) {
    const uint64_t total = uint64_t{1} << precision;
    uint64_t sum = 0;
    uint32_t best = counts[0];
    for (std::size_t i = 0; i < n; ++i) {
      sum += counts[i];
      if (counts[i] > best) {
        best = counts[i];
        argmax_ = i;
      }
    }
    if (sum == 0) {
      uniform_ = static_cast<uint32_t>(total / n);
      remainder_ = static_cast<uint32_t>(total - uint64_t{uniform_} * n);
      return;
    }
    // (total - n) < 2^16, so the shifted budget fits in 48 bits, and
    // counts_i * scale <= (total - n) * 2^32 since counts_i <= sum.
    scale_ = ((total - n) << 32) / sum;
    uint64_t assigned = 0;
    for (std::size_t i = 0; i < n; ++i) assigned += (counts[i] * scale_) >> 32;
    remainder_ = static_cast<uint32_t>(total - n - assigned);
  }
  uint32_t freq(std::size_t i) const {
    const uint32_t base = uniform_ ? uniform_ : 1 + static_cast<uint32_t>((counts_[i] * scale_) >> 32);
    return base + (i == argmax_ ? remainder_ : 0);
  }

 private:
  const uint32_t* counts_;
  uint64_t scale_ = 0;
  std::size_t argmax_ = 0;
  uint32_t uniform_ = 0;
  uint32_t remainder_ = 0;
};

// Counts -> CDF with the CountQuantizer rule.
void pmf_to_cdf(const uint32_t* counts, std::size_t n, int precision, int32_t* cdf);

// Integer logits (1 LSB = 1/16 nat) -> counts proportional to exp(logit),
// from a fixed integer exp table (the maximum logit maps to 2^30).
void logits_to_counts(const int32_t* logits, std::size_t n, uint32_t* counts);

// Integer logits -> CDF: logits_to_counts, then pmf_to_cdf.
// scratch: n integers of working space owned by the caller.
void logits_to_cdf(const int32_t* logits, std::size_t n, int precision, int32_t* cdf,
                   uint32_t* scratch);

// True when cdf[0..n] is a valid CDF at this precision (see top of file).
bool cdf_is_valid(const int32_t* cdf, std::size_t n, int precision);

// The integer exp table: entry d is round-ish(2^30 * exp(-d / 16)), built by
// integer recurrence so it is identical everywhere. Exposed for tests.
const uint32_t* exp_table();

}  // namespace tvc
