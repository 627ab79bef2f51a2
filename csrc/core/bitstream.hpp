// Reader and writer for the TVC bitstream (docs/bitstream.md): the
// sequence-header packet, GoP packets and the .tvc file's record framing.
//
// Parsers take untrusted bytes and either return a fully validated structure
// or throw tvc::Error with the code the spec's damage table names.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tvc {

constexpr uint8_t kVersionMajor = 2;
constexpr uint8_t kVersionMinor = 1;
constexpr uint8_t kPacketSequenceHeader = 1;
constexpr uint8_t kPacketGop = 2;
constexpr uint8_t kPacketEndOfStream = 3;  // since 2.1
// Sequence-header flag bit 0 (since 2.1): the stream promises an end-of-stream
// packet as its last packet, so a reader can tell a cut file from a live stream.
constexpr uint16_t kSequenceFlagEndRecord = 1;
constexpr uint8_t kSubstreamDiscrete = 1;
constexpr uint8_t kSubstreamContinuous = 2;
constexpr uint8_t kFirstIgnorableSubstream = 128;
constexpr std::size_t kMaxSubstreams = 16;
constexpr std::size_t kModelIdSize = 32;
constexpr uint32_t kMaxDimension = 16384;
constexpr uint32_t kMaxGopLength = 1024;
constexpr std::size_t kMaxPacketSize = std::size_t{64} << 20;
constexpr std::size_t kSignatureSize = 8;
extern const uint8_t kFileSignature[kSignatureSize];
extern const uint8_t kRecordSync[2];

struct Rational {
  uint32_t num = 0;
  uint32_t den = 1;
};

struct SequenceHeader {
  uint8_t version_major = kVersionMajor;
  uint8_t version_minor = kVersionMinor;
  std::string model_id;
  std::array<uint8_t, 32> weights_sha256{};
  uint32_t width = 0;
  uint32_t height = 0;
  Rational frame_rate;
  Rational time_base{1, 1};
  Rational sample_aspect_ratio;
  uint8_t color_primaries = 2;  // H.273 "unspecified"
  uint8_t color_trc = 2;
  uint8_t colorspace = 2;
  uint8_t color_range = 0;
  uint8_t chroma_format = 1;
  uint8_t bit_depth = 8;
  uint32_t gop_length = 0;
  uint16_t flags = 0;
};

struct Substream {
  uint8_t kind = 0;
  std::vector<uint8_t> payload;
};

struct GopPacket {
  uint32_t gop_index = 0;
  uint32_t frame_count = 0;
  int64_t first_pts = 0;
  uint8_t quality = 0;
  uint8_t mask_pattern = 0;
  uint32_t continuous_step = 0;
  // Picture size the tokenizer coded (1..16384 a side); the decoder resamples
  // it to the sequence's width x height.
  uint32_t coded_width = 0;
  uint32_t coded_height = 0;
  uint8_t flags = 0;
  std::vector<Substream> substreams;
};

// Type byte of a packet whose CRC is valid; throws on damage.
uint8_t packet_type(const uint8_t* data, std::size_t size);

std::vector<uint8_t> write_sequence_header(const SequenceHeader& header);
SequenceHeader parse_sequence_header(const uint8_t* data, std::size_t size);

std::vector<uint8_t> write_gop_packet(const GopPacket& packet);
// Given the stream's sequence header, also checks frame_count against its GoP
// length and the coded size against its picture size (at most twice it).
GopPacket parse_gop_packet(const uint8_t* data, std::size_t size, const SequenceHeader* stream = nullptr);

// End-of-stream packet (type 3, since 2.1): totals of a finished stream.
struct EndOfStream {
  uint64_t gop_count = 0;    // GoPs in the stream, <= 2^32
  uint64_t frame_count = 0;  // frames in the stream
};

std::vector<uint8_t> write_end_of_stream(const EndOfStream& end);
// Given the stream's sequence header, also checks that the frame count fits
// gop_count GoPs of its GoP length (only the last GoP may be short).
EndOfStream parse_end_of_stream(const uint8_t* data, std::size_t size, const SequenceHeader* stream = nullptr);

// .tvc framing: one record around one packet.
std::vector<uint8_t> write_record(const std::vector<uint8_t>& packet);

// One record found while scanning a file. On damage, error != 0 and the
// scanner has resynchronised (or stopped, when nothing is left).
struct RecordInfo {
  std::size_t offset = 0;          // of the record's sync (or of the damage)
  std::size_t packet_offset = 0;   // of the packet inside the file
  std::size_t packet_size = 0;
  uint8_t type = 0;                // packet type when error == 0
  int error = 0;                   // tvc_error code
  std::string message;
};

// Checks the signature, then walks the records; damaged stretches become one
// RecordInfo with error set, followed by a resync at the next valid record.
// Throws TVC_EINVALIDDATA if the signature is wrong.
std::vector<RecordInfo> scan_records(const uint8_t* data, std::size_t size);

// One event of the incremental scanner: a record with a valid CRC (error == 0,
// packet holds its bytes) or a damaged stretch (error != 0, no packet).
struct ScannedRecord {
  uint64_t offset = 0;  // of the record's sync, or of the first damaged byte
  uint64_t size = 0;    // bytes of the whole record (sync + size + packet), or damaged bytes
  uint8_t type = 0;     // packet type when error == 0
  int error = 0;        // tvc_error code
  std::string message;
  std::vector<uint8_t> packet;
};

// The .tvc record parser for byte sources that arrive in pieces (a pipe, stdin,
// a growing file): feed() bytes as they come, call next() until it asks for
// more, finish() at end of input. Memory stays bounded by one record (a record
// size above 64 MiB is refused as soon as its size field is read, before
// anything is buffered); damaged stretches are reported once and followed by a
// resync at the next record with a valid CRC, exactly as scan_records does.
class RecordScanner {
 public:
  enum Status { kRecord, kNeedData, kEnd };

  RecordScanner() = default;
  RecordScanner(const RecordScanner&) = delete;
  RecordScanner& operator=(const RecordScanner&) = delete;

  void feed(const uint8_t* data, std::size_t size);
  void finish() { eof_ = true; }
  bool finished() const { return eof_; }
  // kRecord fills out; throws TVC_EINVALIDDATA if the file signature is wrong.
  Status next(ScannedRecord& out);
  // Bytes consumed so far (offset of the next unread byte).
  uint64_t position() const { return base_; }
  // Bytes held waiting for the rest of a record.
  std::size_t buffered() const { return buf_.size() - head_; }

 private:
  enum class Probe { kValid, kInvalid, kIncomplete };
  Probe probe(std::size_t at, ScannedRecord& rec, uint64_t& crc_cost) const;
  const uint8_t* data() const { return buf_.data() + head_; }
  void consume(std::size_t n);

  std::vector<uint8_t> buf_;
  std::size_t head_ = 0;   // first unconsumed byte of buf_
  uint64_t base_ = 0;      // stream offset of buf_[head_]
  bool eof_ = false;
  bool signature_ok_ = false;
  bool in_damage_ = false;
  uint64_t damage_start_ = 0;
  int damage_error_ = 0;
  std::string damage_message_;
  std::size_t candidate_ = 0;  // next resync candidate, relative to head_
  // CRC work spent on failed resync candidates is paid from this budget, which
  // grows with the input: a stream full of fake syncs stays linear in its size.
  int64_t resync_budget_ = int64_t{1} << 20;
};

}  // namespace tvc
