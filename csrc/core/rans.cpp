#include "rans.hpp"

#include <string>

#include "status.hpp"

namespace tvc {

namespace {

constexpr uint32_t kLower = 1u << 16;  // lower bound of the coder state
constexpr int kWordBits = 16;
// Escape payload: 6 bits of length, then up to 33 bits of Elias-gamma tail.
constexpr int kEscapeLengthBits = 6;
constexpr int kEscapeMaxLength = 33;

// Index of the symbol s with cdf[s] <= slot < cdf[s + 1] in a valid CDF.
inline int32_t find_symbol(const int32_t* cdf, std::size_t n, uint32_t slot) {
  if (n <= 16) {
    // Branch-free count: the compiler turns this into compares and adds.
    int32_t s = 0;
    for (std::size_t k = 1; k < n; ++k) s += static_cast<uint32_t>(cdf[k]) <= slot;
    return s;
  }
  std::size_t lo = 0, hi = n;
  while (hi - lo > 1) {
    const std::size_t mid = (lo + hi) / 2;
    if (static_cast<uint32_t>(cdf[mid]) <= slot)
      lo = mid;
    else
      hi = mid;
  }
  return static_cast<int32_t>(lo);
}

std::string at(std::size_t k) { return " at position " + std::to_string(k); }

constexpr int kMaxLutBits = 8;  // 256 buckets per table: small enough to stay in cache

}  // namespace

// ---------------------------------------------------------------- CdfTable

CdfTable::CdfTable(const int32_t* cdfs, std::size_t num_tables, std::size_t stride,
                   const int32_t* sizes, const int32_t* offsets, int precision, bool escape)
    : cdfs_(cdfs, cdfs + num_tables * stride),
      sizes_(sizes, sizes + num_tables),
      offsets_(offsets, offsets + num_tables),
      lut_bits_(precision < kMaxLutBits ? precision : kMaxLutBits),
      stride_(stride),
      precision_(precision),
      escape_(escape) {
  if (num_tables == 0) fail(TVC_EINVAL, "CDF table needs at least one CDF");
  check_alphabet(1, precision);
  for (std::size_t i = 0; i < num_tables; ++i) {
    const int32_t n = sizes_[i];
    if (n < (escape ? 2 : 1) || static_cast<std::size_t>(n) + 1 > stride)
      fail(TVC_EINVAL, "CDF " + std::to_string(i) + " has invalid size " + std::to_string(n) +
                           (escape ? " (escape tables need 2 or more symbols)" : ""));
    check_alphabet(static_cast<std::size_t>(n), precision);
    if (!cdf_is_valid(cdf(i), static_cast<std::size_t>(n), precision))
      fail(TVC_EINVAL, "CDF " + std::to_string(i) +
                           " is not a valid CDF (must start at 0, rise strictly, end at 2^precision)");
  }
  const std::size_t buckets = std::size_t{1} << lut_bits_;
  lut_.resize(num_tables * buckets);
  for (std::size_t i = 0; i < num_tables; ++i)
    for (std::size_t b = 0; b < buckets; ++b)
      lut_[i * buckets + b] = static_cast<uint16_t>(find_symbol(
          cdf(i), static_cast<std::size_t>(sizes_[i]), static_cast<uint32_t>(b << lut_shift())));
}

// ---------------------------------------------------------------- encoder

RansEncoder::RansEncoder(int precision) : precision_(precision) { check_alphabet(1, precision); }

void RansEncoder::put(uint32_t start, uint32_t freq) {
  ops_.push_back(start);
  ops_.push_back(freq);
}

void RansEncoder::put_bits(uint32_t value, int nbits) {
  // Raw bits in chunks the precision can hold, lowest chunk first.
  const int chunk = precision_;
  while (nbits > 0) {
    const int take = nbits < chunk ? nbits : chunk;
    const uint32_t part = value & ((1u << take) - 1);
    put(part << (precision_ - take), 1u << (precision_ - take));
    value = take < 32 ? value >> take : 0;
    nbits -= take;
  }
}

void RansEncoder::put_symbol(int32_t symbol, const int32_t* cdf) {
  put(static_cast<uint32_t>(cdf[symbol]), static_cast<uint32_t>(cdf[symbol + 1] - cdf[symbol]));
}

void RansEncoder::encode_indexed(const int32_t* values, const int32_t* indexes, std::size_t count,
                                 const CdfTable& table) {
  if (table.precision() != precision_)
    fail(TVC_EINVAL, "CDF table precision " + std::to_string(table.precision()) +
                         " differs from the coder's " + std::to_string(precision_));
  const std::size_t num_tables = table.num_tables();
  ops_.reserve(ops_.size() + 2 * count);
  for (std::size_t k = 0; k < count; ++k) {
    const int32_t idx = indexes[k];
    if (idx < 0 || static_cast<std::size_t>(idx) >= num_tables)
      fail(TVC_EINVAL, "CDF index " + std::to_string(idx) + " out of range" + at(k));
    const int32_t* cdf = table.cdf(static_cast<std::size_t>(idx));
    const int32_t n = table.size(static_cast<std::size_t>(idx));
    const int64_t s = int64_t{values[k]} - table.offset(static_cast<std::size_t>(idx));
    const int32_t in_table = table.escape() ? n - 1 : n;
    if (s >= 0 && s < in_table) {
      put_symbol(static_cast<int32_t>(s), cdf);
      continue;
    }
    if (!table.escape())
      fail(TVC_EINVAL, "value " + std::to_string(values[k]) + " outside its table" + at(k));
    put_symbol(n - 1, cdf);
    // Fold the overshoot to a non-negative number: below the table -> odd,
    // above -> even; then Elias-gamma code (over + 1).
    const uint64_t over = s < 0 ? static_cast<uint64_t>(-s) * 2 - 1
                                : static_cast<uint64_t>(s - in_table) * 2;
    const uint64_t g = over + 1;
    int length = 0;
    while ((g >> (length + 1)) != 0) ++length;
    put_bits(static_cast<uint32_t>(length), kEscapeLengthBits);
    const uint64_t tail = g & ((uint64_t{1} << length) - 1);
    put_bits(static_cast<uint32_t>(tail & 0xffffffffu), length < 32 ? length : 32);
    if (length > 32) put_bits(static_cast<uint32_t>(tail >> 32), length - 32);
  }
}

void RansEncoder::encode_cdfs(const int32_t* symbols, const int32_t* cdfs, std::size_t count,
                              std::size_t n) {
  check_alphabet(n, precision_);
  ops_.reserve(ops_.size() + 2 * count);
  for (std::size_t k = 0; k < count; ++k) {
    const int32_t* cdf = cdfs + k * (n + 1);
    if (!cdf_is_valid(cdf, n, precision_)) fail(TVC_EINVAL, "invalid CDF" + at(k));
    if (symbols[k] < 0 || static_cast<std::size_t>(symbols[k]) >= n)
      fail(TVC_EINVAL, "symbol " + std::to_string(symbols[k]) + " outside alphabet" + at(k));
    put_symbol(symbols[k], cdf);
  }
}

void RansEncoder::put_counted(int32_t symbol, const uint32_t* counts, std::size_t n) {
  const CountQuantizer q(counts, n, precision_);
  uint32_t start = 0;
  for (std::size_t j = 0; j < static_cast<std::size_t>(symbol); ++j) start += q.freq(j);
  put(start, q.freq(static_cast<std::size_t>(symbol)));
}

void RansEncoder::encode_counts(const int32_t* symbols, const uint32_t* counts, std::size_t count,
                                std::size_t n) {
  check_alphabet(n, precision_);
  ops_.reserve(ops_.size() + 2 * count);
  for (std::size_t k = 0; k < count; ++k) {
    if (symbols[k] < 0 || static_cast<std::size_t>(symbols[k]) >= n)
      fail(TVC_EINVAL, "symbol " + std::to_string(symbols[k]) + " outside alphabet" + at(k));
    put_counted(symbols[k], counts + k * n, n);
  }
}

void RansEncoder::encode_logits(const int32_t* symbols, const int32_t* logits, std::size_t count,
                                std::size_t n) {
  check_alphabet(n, precision_);
  std::vector<uint32_t> scratch(n);
  ops_.reserve(ops_.size() + 2 * count);
  for (std::size_t k = 0; k < count; ++k) {
    if (symbols[k] < 0 || static_cast<std::size_t>(symbols[k]) >= n)
      fail(TVC_EINVAL, "symbol " + std::to_string(symbols[k]) + " outside alphabet" + at(k));
    logits_to_counts(logits + k * n, n, scratch.data());
    put_counted(symbols[k], scratch.data(), n);
  }
}

void RansEncoder::encode_logit_row(int32_t symbol, const int32_t* logits, std::size_t n) {
  if (n > 256) fail(TVC_EINVAL, "encode_logit_row takes at most 256 symbols");
  check_alphabet(n, precision_);
  if (symbol < 0 || static_cast<std::size_t>(symbol) >= n)
    fail(TVC_EINVAL, "symbol " + std::to_string(symbol) + " outside alphabet");
  uint32_t counts[256];
  logits_to_counts(logits, n, counts);
  put_counted(symbol, counts, n);
}

std::vector<uint8_t> RansEncoder::finish() {
  const std::size_t num = ops_.size() / 2;
  std::vector<uint16_t> words;  // in encoding order = reverse of reading order
  words.reserve(num / 2 + 4);
  const int shift = 32 - precision_;
  uint32_t x = kLower;
  for (std::size_t i = num; i-- > 0;) {
    const uint32_t start = ops_[2 * i];
    const uint32_t freq = ops_[2 * i + 1];
    if (x >= (uint64_t{freq} << shift)) {
      words.push_back(static_cast<uint16_t>(x & 0xffff));
      x >>= kWordBits;
    }
    x = ((x / freq) << precision_) + (x % freq) + start;
  }
  ops_.clear();
  std::vector<uint8_t> out(4 + 2 * words.size());
  out[0] = static_cast<uint8_t>(x);
  out[1] = static_cast<uint8_t>(x >> 8);
  out[2] = static_cast<uint8_t>(x >> 16);
  out[3] = static_cast<uint8_t>(x >> 24);
  uint8_t* p = out.data() + 4;
  for (std::size_t i = words.size(); i-- > 0;) {
    *p++ = static_cast<uint8_t>(words[i]);
    *p++ = static_cast<uint8_t>(words[i] >> 8);
  }
  return out;
}

// ---------------------------------------------------------------- decoder

RansDecoder::RansDecoder(const uint8_t* data, std::size_t size, int precision)
    : ptr_(data), end_(data + size), state_(0), precision_(precision) {
  check_alphabet(1, precision);
  if (size < 4) fail(TVC_ETRUNCATED, "rANS stream shorter than its 4-byte initial state");
  if (size % 2 != 0) fail(TVC_EINVALIDDATA, "rANS stream has an odd number of bytes");
  state_ = uint32_t{ptr_[0]} | uint32_t{ptr_[1]} << 8 | uint32_t{ptr_[2]} << 16 |
           uint32_t{ptr_[3]} << 24;
  ptr_ += 4;
  if (state_ < kLower) fail(TVC_EINVALIDDATA, "rANS stream has an impossible initial state");
}

inline void RansDecoder::renormalize() {
  if (state_ < kLower) {
    if (end_ - ptr_ < 2) fail(TVC_ETRUNCATED, "rANS stream ended before its last symbol");
    state_ = (state_ << kWordBits) | uint32_t{ptr_[0]} | uint32_t{ptr_[1]} << 8;
    ptr_ += 2;
  }
}

inline int32_t RansDecoder::get_symbol(const int32_t* cdf, std::size_t n) {
  const uint32_t mask = (1u << precision_) - 1;
  const uint32_t slot = state_ & mask;
  const int32_t s = find_symbol(cdf, n, slot);
  const uint32_t start = static_cast<uint32_t>(cdf[s]);
  const uint32_t freq = static_cast<uint32_t>(cdf[s + 1]) - start;
  state_ = freq * (state_ >> precision_) + slot - start;
  renormalize();
  return s;
}

uint32_t RansDecoder::get_bits(int nbits) {
  if (nbits < 0 || nbits > 32) fail(TVC_EINVAL, "get_bits takes 0..32 bits");
  const int chunk = precision_;
  const uint32_t mask = (1u << precision_) - 1;
  uint32_t value = 0;
  int done = 0;
  while (done < nbits) {
    const int take = nbits - done < chunk ? nbits - done : chunk;
    const uint32_t slot = state_ & mask;
    const uint32_t part = slot >> (precision_ - take);
    const uint32_t start = part << (precision_ - take);
    state_ = (1u << (precision_ - take)) * (state_ >> precision_) + slot - start;
    renormalize();
    value |= part << done;
    done += take;
  }
  return value;
}

void RansDecoder::decode_indexed(const int32_t* indexes, std::size_t count, const CdfTable& table,
                                 int32_t* values) {
  if (table.precision() != precision_)
    fail(TVC_EINVAL, "CDF table precision " + std::to_string(table.precision()) +
                         " differs from the coder's " + std::to_string(precision_));
  const std::size_t num_tables = table.num_tables();
  const uint32_t mask = (1u << precision_) - 1;
  const int shift = table.lut_shift();
  const bool escape = table.escape();
  for (std::size_t k = 0; k < count; ++k) {
    const int32_t idx = indexes[k];
    if (idx < 0 || static_cast<std::size_t>(idx) >= num_tables)
      fail(TVC_EINVAL, "CDF index " + std::to_string(idx) + " out of range" + at(k));
    const std::size_t i = static_cast<std::size_t>(idx);
    const int32_t* cdf = table.cdf(i);
    const uint32_t slot = state_ & mask;
    int32_t s = table.lut(i)[slot >> shift];
    while (static_cast<uint32_t>(cdf[s + 1]) <= slot) ++s;
    const uint32_t start = static_cast<uint32_t>(cdf[s]);
    state_ = (static_cast<uint32_t>(cdf[s + 1]) - start) * (state_ >> precision_) + slot - start;
    renormalize();
    const int32_t n = table.size(i);
    const int64_t offset = table.offset(i);
    if (!escape || s < n - 1) {
      values[k] = static_cast<int32_t>(s + offset);
      continue;
    }
    const int length = static_cast<int>(get_bits(kEscapeLengthBits));
    if (length > kEscapeMaxLength) fail(TVC_EINVALIDDATA, "escape length out of range" + at(k));
    uint64_t tail = get_bits(length < 32 ? length : 32);
    if (length > 32) tail |= uint64_t{get_bits(length - 32)} << 32;
    const uint64_t over = ((uint64_t{1} << length) | tail) - 1;
    const int64_t rel = (over & 1) ? -static_cast<int64_t>((over + 1) / 2)
                                   : static_cast<int64_t>(over / 2) + (n - 1);
    const int64_t v = rel + offset;
    if (v < INT32_MIN || v > INT32_MAX)
      fail(TVC_EINVALIDDATA, "escaped value does not fit in 32 bits" + at(k));
    values[k] = static_cast<int32_t>(v);
  }
}

void RansDecoder::decode_cdfs(const int32_t* cdfs, std::size_t count, std::size_t n,
                              int32_t* symbols) {
  check_alphabet(n, precision_);
  for (std::size_t k = 0; k < count; ++k) {
    const int32_t* cdf = cdfs + k * (n + 1);
    if (!cdf_is_valid(cdf, n, precision_)) fail(TVC_EINVAL, "invalid CDF" + at(k));
    symbols[k] = get_symbol(cdf, n);
  }
}

inline int32_t RansDecoder::get_counted(const uint32_t* counts, std::size_t n) {
  const CountQuantizer q(counts, n, precision_);
  const uint32_t slot = state_ & ((1u << precision_) - 1);
  uint32_t start = 0;
  std::size_t s = 0;
  uint32_t freq = q.freq(0);
  while (start + freq <= slot) {  // terminates: the frequencies sum to 2^precision
    start += freq;
    freq = q.freq(++s);
  }
  state_ = freq * (state_ >> precision_) + slot - start;
  renormalize();
  return static_cast<int32_t>(s);
}

void RansDecoder::decode_counts(const uint32_t* counts, std::size_t count, std::size_t n,
                                int32_t* symbols) {
  check_alphabet(n, precision_);
  for (std::size_t k = 0; k < count; ++k) symbols[k] = get_counted(counts + k * n, n);
}

void RansDecoder::decode_logits(const int32_t* logits, std::size_t count, std::size_t n,
                                int32_t* symbols) {
  check_alphabet(n, precision_);
  std::vector<uint32_t> scratch(n);
  for (std::size_t k = 0; k < count; ++k) {
    logits_to_counts(logits + k * n, n, scratch.data());
    symbols[k] = get_counted(scratch.data(), n);
  }
}

int32_t RansDecoder::decode_logit_row(const int32_t* logits, std::size_t n) {
  if (n > 256) fail(TVC_EINVAL, "decode_logit_row takes at most 256 symbols");
  check_alphabet(n, precision_);
  uint32_t counts[256];
  logits_to_counts(logits, n, counts);
  return get_counted(counts, n);
}

void RansDecoder::finish() const {
  if (ptr_ != end_)
    fail(TVC_EINVALIDDATA, "rANS stream has " + std::to_string(end_ - ptr_) +
                               " unread bytes after its last symbol");
  if (state_ != kLower) fail(TVC_EINVALIDDATA, "rANS stream did not end in its initial state");
}

}  // namespace tvc
