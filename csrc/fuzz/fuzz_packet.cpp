// Fuzz target: every bitstream parser on arbitrary bytes. Parsers may throw
// tvc::Error; anything else (a crash, a sanitizer report, another exception,
// a hang) is a bug. Valid parses must re-serialise to the same bytes.
#include <cstdint>
#include <algorithm>
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
    const tvc::EndOfStream e = tvc::parse_end_of_stream(data, size);
    const std::vector<uint8_t> again = tvc::write_end_of_stream(e);
    const tvc::EndOfStream e2 = tvc::parse_end_of_stream(again.data(), again.size());
    if (e2.gop_count != e.gop_count || e2.frame_count != e.frame_count) std::abort();
  } catch (const tvc::Error&) {
  }
  // The incremental scanner, fed in uneven pieces, must agree with the one-shot scan.
  std::vector<tvc::RecordInfo> whole;
  bool whole_ok = true;
  try {
    whole = tvc::scan_records(data, size);
  } catch (const tvc::Error&) {
    whole_ok = false;
  }
  try {
    tvc::RecordScanner scanner;
    tvc::ScannedRecord rec;
    std::size_t found = 0, pos = 0, step = 1;
    while (true) {
      const std::size_t n = std::min(step, size - pos);
      if (n) scanner.feed(data + pos, n); else scanner.finish();
      pos += n;
      step = step * 3 % 17 + 1;
      tvc::RecordScanner::Status st;
      while ((st = scanner.next(rec)) == tvc::RecordScanner::kRecord) {
        if (!whole_ok || found >= whole.size() || whole[found].offset != rec.offset) std::abort();
        ++found;
      }
      if (st == tvc::RecordScanner::kEnd) break;
    }
    if (found != whole.size()) std::abort();
  } catch (const tvc::Error&) {
    if (whole_ok) std::abort();
  }
  try {
    const auto records = tvc::scan_records(data, size);
    for (const auto& r : records)
      if (r.packet_offset + r.packet_size > size) std::abort();
  } catch (const tvc::Error&) {
  }
  return 0;
}
