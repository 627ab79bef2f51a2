// rANS entropy coder over integer CDFs.
//
// State: 32 bits, kept in [2^16, 2^32); renormalisation moves 16-bit words.
// Precision (log2 of the CDF total) is 1..16 bits and fixed per stream.
//
// Stream layout (docs/bitstream.md, "rANS substream"): the final encoder state
// as 4 bytes little-endian, then the 16-bit words (little-endian) in the order
// the decoder reads them. A stream decodes correctly only if, after the last
// symbol, the decoder state is back at its initial value 2^16 and every word
// has been read; Decoder::finish() checks both, which catches most damage that
// the packet CRC did not already catch.
//
// Symbols are given to the Encoder in decoding order; it buffers them and codes
// in reverse on finish(), as rANS requires.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cdf.hpp"

namespace tvc {

// A set of CDFs selected per symbol by an index (as CompressAI's indexed
// coder): table i has sizes[i] symbols and its values are offset by
// offsets[i]. With escape = true the last symbol of every table is an escape:
// values outside the table are coded as the escape followed by an
// Elias-gamma code in bypass words, so any int32 value can be coded.
class CdfTable {
 public:
  // cdfs: num_tables rows of stride ints each; row i holds sizes[i] + 1 values.
  CdfTable(const int32_t* cdfs, std::size_t num_tables, std::size_t stride, const int32_t* sizes,
           const int32_t* offsets, int precision, bool escape);

  std::size_t num_tables() const { return sizes_.size(); }
  int precision() const { return precision_; }
  bool escape() const { return escape_; }
  const int32_t* cdf(std::size_t i) const { return cdfs_.data() + i * stride_; }
  // Decoder search accelerator: for table i, lut(i)[slot >> lut_shift()] is the
  // symbol holding the first slot of that bucket, so a search starts there.
  const uint16_t* lut(std::size_t i) const { return lut_.data() + (i << lut_bits_); }
  int lut_shift() const { return precision_ - lut_bits_; }
  int32_t size(std::size_t i) const { return sizes_[i]; }
  int32_t offset(std::size_t i) const { return offsets_[i]; }

 private:
  std::vector<int32_t> cdfs_;
  std::vector<int32_t> sizes_;
  std::vector<int32_t> offsets_;
  std::vector<uint16_t> lut_;
  int lut_bits_;
  std::size_t stride_;
  int precision_;
  bool escape_;
};

class RansEncoder {
 public:
  explicit RansEncoder(int precision);
  RansEncoder(const RansEncoder&) = delete;
  RansEncoder& operator=(const RansEncoder&) = delete;

  int precision() const { return precision_; }
  std::size_t pending() const { return ops_.size(); }

  // One symbol occupying [start, start + freq) of 2^precision.
  void put(uint32_t start, uint32_t freq);
  // nbits (0..precision) raw bits, all values equally likely.
  void put_bits(uint32_t value, int nbits);

  // values[k] coded with table cdf(indexes[k]).
  void encode_indexed(const int32_t* values, const int32_t* indexes, std::size_t count,
                      const CdfTable& table);
  // symbols[k] in [0, n) coded with cdfs[k * (n + 1) ...]; CDFs are validated.
  void encode_cdfs(const int32_t* symbols, const int32_t* cdfs, std::size_t count, std::size_t n);
  // symbols[k] coded with the CDF built from counts[k * n ...] (pmf_to_cdf).
  void encode_counts(const int32_t* symbols, const uint32_t* counts, std::size_t count,
                     std::size_t n);
  // symbols[k] coded with the CDF built from logits[k * n ...] (logits_to_cdf).
  void encode_logits(const int32_t* symbols, const int32_t* logits, std::size_t count,
                     std::size_t n);

  // One symbol with the distribution of n integer logits (logits_to_counts);
  // the building block of the context models, which produce logits per symbol.
  void encode_logit_row(int32_t symbol, const int32_t* logits, std::size_t n);

  // Codes everything put so far and returns the stream; the encoder is then
  // empty and can be reused.
  std::vector<uint8_t> finish();

 private:
  void put_symbol(int32_t symbol, const int32_t* cdf);
  void put_counted(int32_t symbol, const uint32_t* counts, std::size_t n);

  int precision_;
  // (start, freq) per symbol, in decoding order. freq may be 2^16 (a
  // one-symbol alphabet), so both halves need 17 bits: stored as 2 x uint32.
  std::vector<uint32_t> ops_;
};

class RansDecoder {
 public:
  // Reads the initial state; throws TVC_ETRUNCATED / TVC_EINVALIDDATA.
  RansDecoder(const uint8_t* data, std::size_t size, int precision);
  RansDecoder(const RansDecoder&) = delete;
  RansDecoder& operator=(const RansDecoder&) = delete;

  int precision() const { return precision_; }

  uint32_t get_bits(int nbits);
  void decode_indexed(const int32_t* indexes, std::size_t count, const CdfTable& table,
                      int32_t* values);
  void decode_cdfs(const int32_t* cdfs, std::size_t count, std::size_t n, int32_t* symbols);
  void decode_counts(const uint32_t* counts, std::size_t count, std::size_t n, int32_t* symbols);
  void decode_logits(const int32_t* logits, std::size_t count, std::size_t n, int32_t* symbols);

  int32_t decode_logit_row(const int32_t* logits, std::size_t n);

  // Throws TVC_EINVALIDDATA unless the stream ended exactly where it should.
  void finish() const;
  std::size_t bytes_left() const { return static_cast<std::size_t>(end_ - ptr_); }

 private:
  int32_t get_symbol(const int32_t* cdf, std::size_t n);
  int32_t get_counted(const uint32_t* counts, std::size_t n);
  void renormalize();

  const uint8_t* ptr_;
  const uint8_t* end_;
  uint32_t state_;
  int precision_;
};

}  // namespace tvc
