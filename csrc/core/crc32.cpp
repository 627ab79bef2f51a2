#include "crc32.hpp"

namespace tvc {

namespace {

struct Crc32Table {
  uint32_t v[256];
  Crc32Table() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      v[i] = c;
    }
  }
};

}  // namespace

uint32_t crc32(const uint8_t* data, std::size_t size, uint32_t crc) {
  static const Crc32Table table;
  uint32_t c = ~crc;
  for (std::size_t i = 0; i < size; ++i) c = table.v[(c ^ data[i]) & 0xff] ^ (c >> 8);
  return ~c;
}

}  // namespace tvc
