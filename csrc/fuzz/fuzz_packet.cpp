// Fuzz target: every bitstream parser on arbitrary bytes. Parsers may throw
// tvc::Error; anything else (a crash, a sanitizer report, another exception,
// a hang) is a bug. Valid parses must re-serialise to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "../core/bitstream.hpp"
#include "../core/status.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    tvc::SequenceHeader h = tvc::parse_sequence_header(data, size);
    // A 1.0 header written back must parse to the same fields.
    const std::vector<uint8_t> again = tvc::write_sequence_header(h);
    const tvc::SequenceHeader h2 = tvc::parse_sequence_header(again.data(), again.size());
    if (h2.width != h.width || h2.model_id != h.model_id) std::abort();
  } catch (const tvc::Error&) {
  }
  try {
    tvc::GopPacket p = tvc::parse_gop_packet(data, size);
    const std::vector<uint8_t> again = tvc::write_gop_packet(p);
    const tvc::GopPacket p2 = tvc::parse_gop_packet(again.data(), again.size());
    if (p2.frame_count != p.frame_count || p2.substreams.size() != p.substreams.size()) std::abort();
  } catch (const tvc::Error&) {
  }
  try {
    const auto records = tvc::scan_records(data, size);
    for (const auto& r : records)
      if (r.packet_offset + r.packet_size > size) std::abort();
  } catch (const tvc::Error&) {
  }
  return 0;
}
