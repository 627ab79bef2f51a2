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

// Counts (any scale, all zero allowed) -> CDF. Each symbol receives
// 1 + floor(count * (2^precision - n) / total); the rounding remainder goes to
// the first symbol with the largest count.
void pmf_to_cdf(const uint32_t* counts, std::size_t n, int precision, int32_t* cdf);

// Integer logits (1 LSB = 1/16 nat) -> CDF via a fixed integer exp table.
// scratch: n integers of working space owned by the caller.
void logits_to_cdf(const int32_t* logits, std::size_t n, int precision, int32_t* cdf,
                   uint32_t* scratch);

// True when cdf[0..n] is a valid CDF at this precision (see top of file).
bool cdf_is_valid(const int32_t* cdf, std::size_t n, int precision);

// The integer exp table: entry d is round-ish(2^30 * exp(-d / 16)), built by
// integer recurrence so it is identical everywhere. Exposed for tests.
const uint32_t* exp_table();

}  // namespace tvc
