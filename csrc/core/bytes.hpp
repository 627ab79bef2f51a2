// Bounds-checked little-endian byte reader and writer, with LEB128 varints.
//
// The reader treats its input as hostile: every read checks the bytes left
// and throws tvc::Error(TVC_ETRUNCATED) instead of reading past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "status.hpp"

namespace tvc {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, std::size_t size, const char* what)
      : p_(data), end_(data + size), what_(what) {}

  std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }
  const uint8_t* pos() const { return p_; }

  void need(std::size_t n) const {
    if (left() < n) fail(TVC_ETRUNCATED, std::string(what_) + " ends early");
  }
  uint8_t u8() {
    need(1);
    return *p_++;
  }
  uint16_t u16() {
    need(2);
    const uint16_t v = static_cast<uint16_t>(p_[0] | p_[1] << 8);
    p_ += 2;
    return v;
  }
  uint32_t u32() {
    need(4);
    const uint32_t v = uint32_t{p_[0]} | uint32_t{p_[1]} << 8 | uint32_t{p_[2]} << 16 |
                       uint32_t{p_[3]} << 24;
    p_ += 4;
    return v;
  }
  // Unsigned LEB128, at most 10 bytes, value < 2^64.
  uint64_t uv() {
    uint64_t v = 0;
    for (int i = 0; i < 10; ++i) {
      const uint8_t b = u8();
      const uint64_t group = b & 0x7f;
      if (i == 9 && group > 1) fail(TVC_EINVALIDDATA, std::string(what_) + ": varint overflows 64 bits");
      v |= group << (7 * i);
      if (!(b & 0x80)) return v;
    }
    fail(TVC_EINVALIDDATA, std::string(what_) + ": varint longer than 10 bytes");
  }
  int64_t sv() {
    const uint64_t z = uv();
    return static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
  }
  const uint8_t* bytes(std::size_t n) {
    need(n);
    const uint8_t* b = p_;
    p_ += n;
    return b;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  const char* what_;
};

class ByteWriter {
 public:
  std::vector<uint8_t>& buffer() { return buf_; }
  std::size_t size() const { return buf_.size(); }

  void u8(uint8_t v) { buf_.push_back(v); }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v));
    u8(static_cast<uint8_t>(v >> 8));
  }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void uv(uint64_t v) {
    while (v >= 0x80) {
      u8(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    u8(static_cast<uint8_t>(v));
  }
  void sv(int64_t v) {
    uv((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void bytes(const uint8_t* data, std::size_t n) { buf_.insert(buf_.end(), data, data + n); }

 private:
  std::vector<uint8_t> buf_;
};

}  // namespace tvc
