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
constexpr uint8_t kVersionMinor = 0;
constexpr uint8_t kPacketSequenceHeader = 1;
constexpr uint8_t kPacketGop = 2;
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

}  // namespace tvc
