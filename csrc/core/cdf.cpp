#include "cdf.hpp"

#include <string>

#include "status.hpp"

namespace tvc {

void check_alphabet(std::size_t n, int precision) {
  if (precision < 1 || precision > kMaxPrecision)
    fail(TVC_EINVAL, "CDF precision must be 1.." + std::to_string(kMaxPrecision) + " bits, got " +
                         std::to_string(precision));
  if (n < 1 || n > (std::size_t{1} << precision))
    fail(TVC_EINVAL, "alphabet of " + std::to_string(n) + " symbols does not fit in " +
                         std::to_string(precision) + "-bit CDFs");
}

void pmf_to_cdf(const uint32_t* counts, std::size_t n, int precision, int32_t* cdf) {
  const CountQuantizer q(counts, n, precision);
  uint32_t used = 0;
  cdf[0] = 0;
  for (std::size_t i = 0; i < n; ++i) {
    used += q.freq(i);
    cdf[i + 1] = static_cast<int32_t>(used);
  }
}

namespace {

struct ExpTable {
  uint32_t v[kLogitRange];
  ExpTable() {
    // 1008687096 = round(2^30 * exp(-1/16)); the recurrence rounds to nearest.
    constexpr uint64_t kStep = 1008687096;
    uint64_t x = uint64_t{1} << 30;
    for (int d = 0; d < kLogitRange; ++d) {
      v[d] = static_cast<uint32_t>(x);
      x = (x * kStep + (uint64_t{1} << 29)) >> 30;
    }
  }
};

const ExpTable& table() {
  static const ExpTable t;
  return t;
}

}  // namespace

const uint32_t* exp_table() { return table().v; }

void logits_to_counts(const int32_t* logits, std::size_t n, uint32_t* counts) {
  const uint32_t* e = table().v;
  int32_t max_logit = logits[0];
  for (std::size_t i = 1; i < n; ++i)
    if (logits[i] > max_logit) max_logit = logits[i];
  for (std::size_t i = 0; i < n; ++i) {
    const int64_t d = int64_t{max_logit} - logits[i];  // >= 0, may exceed int32
    counts[i] = d < kLogitRange ? e[d] : 0;
  }
}

void logits_to_cdf(const int32_t* logits, std::size_t n, int precision, int32_t* cdf,
                   uint32_t* scratch) {
  logits_to_counts(logits, n, scratch);
  pmf_to_cdf(scratch, n, precision, cdf);
}

bool cdf_is_valid(const int32_t* cdf, std::size_t n, int precision) {
  if (n < 1 || cdf[0] != 0 || cdf[n] != (int32_t{1} << precision)) return false;
  for (std::size_t i = 0; i < n; ++i)
    if (cdf[i + 1] <= cdf[i]) return false;
  return true;
}

}  // namespace tvc
