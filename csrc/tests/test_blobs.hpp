// Header fields of the model blobs (docs/ccm.md) for the native tests and the
// fuzz targets, which build their nets by hand. They are written here field by
// field, apart from the core's serializers, so that a test comparing the core's
// output with these bytes checks the documented format, not the core against
// itself. Each function writes the fields only; the caller writes what follows.
#pragma once

#include <cstdint>
#include <vector>

#include "../core/bytes.hpp"

namespace tvc::test_blobs {

// "TVCN" integer network blob: magic, version 1, layer count; the layers follow.
inline void net_header(ByteWriter& w, int layers) {
  const uint8_t magic[4] = {'T', 'V', 'C', 'N'};
  w.bytes(magic, 4);
  w.u16(1);
  w.u16(static_cast<uint16_t>(layers));
}

// One layer's shape; its weights, bias, multiplier and shift follow.
// hidden: ReLU/int8 features (1) or logits (0).
inline void layer_header(ByteWriter& w, int cin, int cout, int kernel, bool hidden) {
  w.u16(static_cast<uint16_t>(cin));
  w.u16(static_cast<uint16_t>(cout));
  w.u8(static_cast<uint8_t>(kernel));
  w.u8(hidden ? 1 : 0);
}

// "TVCM" CCM v2 container up to and including the trunk (a whole "TVCN"
// blob); with digit_heads the heads follow.
inline void ccm_header(ByteWriter& w, int prev_frames, bool digit_heads, const std::vector<uint8_t>& trunk) {
  const uint8_t magic[4] = {'T', 'V', 'C', 'M'};
  w.bytes(magic, 4);
  w.u16(2);
  w.u8(static_cast<uint8_t>(prev_frames));
  w.u8(digit_heads ? 1 : 0);
  w.u32(static_cast<uint32_t>(trunk.size()));
  w.bytes(trunk.data(), trunk.size());
}

// One digit head's shape (kernel 1 and logits are implied); its parameters follow.
inline void head_header(ByteWriter& w, int cin, int cout) {
  w.u16(static_cast<uint16_t>(cin));
  w.u16(static_cast<uint16_t>(cout));
}

}  // namespace tvc::test_blobs
