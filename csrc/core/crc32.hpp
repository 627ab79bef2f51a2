// CRC-32/ISO-HDLC (the zlib / Ethernet CRC), table-driven.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tvc {

// crc32(data) == zlib.crc32(data); pass the previous result as `crc` to continue.
uint32_t crc32(const uint8_t* data, std::size_t size, uint32_t crc = 0);

}  // namespace tvc
