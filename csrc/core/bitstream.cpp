#include "bitstream.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "bytes.hpp"
#include "crc32.hpp"
#include "status.hpp"

namespace tvc {

const uint8_t kFileSignature[kSignatureSize] = {0x89, 'T', 'V', 'C', 0x0D, 0x0A, 0x1A, 0x0A};
const uint8_t kRecordSync[2] = {'T', 'V'};

namespace {

constexpr std::size_t kSequenceHeaderFieldsV10 = 104;
constexpr std::size_t kCrcSize = 4;

void finish_packet(ByteWriter& w) {
  w.u32(crc32(w.buffer().data(), w.size()));
}

// Checks the trailing CRC and returns the packet without it.
std::size_t verified_body_size(const uint8_t* data, std::size_t size) {
  if (size < 1 + 1 + kCrcSize) fail(TVC_ETRUNCATED, "packet shorter than its minimal size");
  if (size > kMaxPacketSize) fail(TVC_ELIMIT, "packet larger than 64 MiB");
  const std::size_t body = size - kCrcSize;
  const uint8_t* c = data + body;
  const uint32_t stored =
      uint32_t{c[0]} | uint32_t{c[1]} << 8 | uint32_t{c[2]} << 16 | uint32_t{c[3]} << 24;
  if (crc32(data, body) != stored) fail(TVC_ECRC, "packet CRC32 mismatch");
  return body;
}

bool valid_model_id(const std::string& id) {
  if (id.empty() || id.size() > kModelIdSize) return false;
  for (char ch : id) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
    if (!ok) return false;
  }
  return true;
}

void check_sequence_header(const SequenceHeader& h, int code) {
  if (!valid_model_id(h.model_id))
    fail(code, "model id must be 1..32 characters of [a-z0-9.-]");
  if (h.width < 1 || h.height < 1) fail(code, "picture size must be at least 1x1");
  if (h.width > kMaxDimension || h.height > kMaxDimension)
    fail(TVC_ELIMIT, "picture size " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                         " exceeds the 16384-pixel limit");
  if (h.frame_rate.den == 0 || h.sample_aspect_ratio.den == 0 || h.time_base.den == 0 ||
      h.time_base.num == 0)
    fail(code, "frame rate, time base or aspect ratio has a zero denominator (or zero time base)");
  if (h.color_range > 2) fail(code, "colour range must be 0, 1 or 2");
  if (h.chroma_format > 3) fail(code, "chroma format must be 0..3");
  if (h.bit_depth < 8 || h.bit_depth > 16) fail(code, "bit depth must be 8..16");
  if (h.gop_length < 1 || h.gop_length > kMaxGopLength) fail(code, "GoP length must be 1..1024");
}

}  // namespace

uint8_t packet_type(const uint8_t* data, std::size_t size) {
  verified_body_size(data, size);
  return data[0];
}

// ------------------------------------------------------------ sequence header

std::vector<uint8_t> write_sequence_header(const SequenceHeader& h) {
  check_sequence_header(h, TVC_EINVAL);
  ByteWriter w;
  w.u8(kPacketSequenceHeader);
  w.uv(kSequenceHeaderFieldsV10);
  w.u8(h.version_major);
  w.u8(h.version_minor);
  uint8_t id[kModelIdSize] = {};
  std::memcpy(id, h.model_id.data(), h.model_id.size());
  w.bytes(id, kModelIdSize);
  w.bytes(h.weights_sha256.data(), h.weights_sha256.size());
  w.u16(static_cast<uint16_t>(h.width));
  w.u16(static_cast<uint16_t>(h.height));
  for (const Rational* r : {&h.frame_rate, &h.time_base, &h.sample_aspect_ratio}) {
    w.u32(r->num);
    w.u32(r->den);
  }
  w.u8(h.color_primaries);
  w.u8(h.color_trc);
  w.u8(h.colorspace);
  w.u8(h.color_range);
  w.u8(h.chroma_format);
  w.u8(h.bit_depth);
  w.u16(static_cast<uint16_t>(h.gop_length));
  w.u16(h.flags);
  finish_packet(w);
  return w.buffer();
}

SequenceHeader parse_sequence_header(const uint8_t* data, std::size_t size) {
  const std::size_t body = verified_body_size(data, size);
  ByteReader r(data, body, "sequence header");
  if (r.u8() != kPacketSequenceHeader) fail(TVC_EINVALIDDATA, "not a sequence header packet");
  const uint64_t fields_size = r.uv();
  if (fields_size != r.left()) fail(TVC_EINVALIDDATA, "sequence header size field disagrees with the packet size");
  SequenceHeader h;
  h.version_major = r.u8();
  h.version_minor = r.u8();
  // Major 1 was the development format of tvc-ffmpeg 0.1 (no coded picture size
  // per GoP); it is refused like any other major this decoder does not know.
  if (h.version_major != kVersionMajor)
    fail(TVC_EUNSUPPORTED_VERSION,
         "bitstream version " + std::to_string(h.version_major) + "." +
             std::to_string(h.version_minor) + " is not supported (this decoder reads 2.x)");
  if (fields_size < kSequenceHeaderFieldsV10)
    fail(TVC_ETRUNCATED, "sequence header shorter than version 1.0 requires");
  const uint8_t* id = r.bytes(kModelIdSize);
  std::size_t len = 0;
  while (len < kModelIdSize && id[len] != 0) ++len;
  h.model_id.assign(reinterpret_cast<const char*>(id), len);
  for (std::size_t i = len; i < kModelIdSize; ++i)
    if (id[i] != 0) fail(TVC_EINVALIDDATA, "model id is not zero-padded");
  std::memcpy(h.weights_sha256.data(), r.bytes(32), 32);
  h.width = r.u16();
  h.height = r.u16();
  for (Rational* q : {&h.frame_rate, &h.time_base, &h.sample_aspect_ratio}) {
    q->num = r.u32();
    q->den = r.u32();
  }
  h.color_primaries = r.u8();
  h.color_trc = r.u8();
  h.colorspace = r.u8();
  h.color_range = r.u8();
  h.chroma_format = r.u8();
  h.bit_depth = r.u8();
  h.gop_length = r.u16();
  h.flags = r.u16();
  // Fields of later minor versions follow; a 1.0 decoder skips them.
  check_sequence_header(h, TVC_EINVALIDDATA);
  return h;
}

// ------------------------------------------------------------ GoP packets

std::vector<uint8_t> write_gop_packet(const GopPacket& p) {
  if (p.frame_count < 1 || p.frame_count > kMaxGopLength)
    fail(TVC_EINVAL, "GoP frame count must be 1..1024");
  if (p.continuous_step > 0xffff) fail(TVC_EINVAL, "continuous step must be below 65536");
  if (p.coded_width < 1 || p.coded_width > kMaxDimension || p.coded_height < 1 || p.coded_height > kMaxDimension)
    fail(TVC_EINVAL, "coded picture size must be 1..16384 a side");
  if (p.substreams.size() > kMaxSubstreams) fail(TVC_EINVAL, "at most 16 substreams per GoP");
  ByteWriter fields;
  fields.uv(p.gop_index);
  fields.uv(p.frame_count);
  fields.sv(p.first_pts);
  fields.u8(p.quality);
  fields.u8(p.mask_pattern);
  fields.uv(p.continuous_step);
  fields.uv(p.coded_width);
  fields.uv(p.coded_height);
  fields.u8(p.flags);
  fields.u8(static_cast<uint8_t>(p.substreams.size()));
  ByteWriter w;
  w.u8(kPacketGop);
  w.uv(fields.size());
  w.bytes(fields.buffer().data(), fields.size());
  uint32_t seen = 0;  // bit k: kind k already present (kinds 1..31 tracked)
  for (const Substream& s : p.substreams) {
    if (s.kind == 0) fail(TVC_EINVAL, "substream kind 0 is not allowed");
    if (s.kind < 32) {
      if (seen & (1u << s.kind)) fail(TVC_EINVAL, "two substreams of the same kind");
      seen |= 1u << s.kind;
    }
    w.u8(s.kind);
    w.uv(s.payload.size());
    w.bytes(s.payload.data(), s.payload.size());
  }
  if (w.size() + kCrcSize > kMaxPacketSize) fail(TVC_ELIMIT, "GoP packet larger than 64 MiB");
  finish_packet(w);
  return w.buffer();
}

namespace {

uint32_t parse_coded_side(ByteReader& f, uint32_t source, const char* name) {
  const uint64_t v = f.uv();
  const uint64_t limit = source ? std::min<uint64_t>(2ull * source, kMaxDimension) : kMaxDimension;
  if (v < 1 || v > limit)
    fail(TVC_EINVALIDDATA, std::string("coded ") + name + " " + std::to_string(v) + " outside 1.." +
                               std::to_string(limit));
  return static_cast<uint32_t>(v);
}

}  // namespace

GopPacket parse_gop_packet(const uint8_t* data, std::size_t size, const SequenceHeader* stream) {
  const uint32_t gop_length = stream ? stream->gop_length : 0;
  const uint32_t width = stream ? stream->width : 0;
  const uint32_t height = stream ? stream->height : 0;
  const std::size_t body = verified_body_size(data, size);
  ByteReader r(data, body, "GoP packet");
  if (r.u8() != kPacketGop) fail(TVC_EINVALIDDATA, "not a GoP packet");
  const uint64_t fields_size = r.uv();
  if (fields_size > r.left()) fail(TVC_ETRUNCATED, "GoP header runs past the packet");
  ByteReader f(r.bytes(static_cast<std::size_t>(fields_size)), static_cast<std::size_t>(fields_size),
               "GoP header");
  GopPacket p;
  const uint64_t index = f.uv();
  if (index > 0xffffffffu) fail(TVC_EINVALIDDATA, "GoP index above 2^32 - 1");
  p.gop_index = static_cast<uint32_t>(index);
  const uint64_t frames = f.uv();
  const uint64_t max_frames = gop_length ? gop_length : kMaxGopLength;
  if (frames < 1 || frames > max_frames)
    fail(TVC_EINVALIDDATA, "GoP frame count " + std::to_string(frames) + " outside 1.." +
                               std::to_string(max_frames));
  p.frame_count = static_cast<uint32_t>(frames);
  p.first_pts = f.sv();
  p.quality = f.u8();
  p.mask_pattern = f.u8();
  const uint64_t step = f.uv();
  if (step > 0xffff) fail(TVC_EINVALIDDATA, "continuous step above 65535");
  p.continuous_step = static_cast<uint32_t>(step);
  p.coded_width = parse_coded_side(f, width, "width");
  p.coded_height = parse_coded_side(f, height, "height");
  p.flags = f.u8();
  const uint8_t count = f.u8();
  if (count > kMaxSubstreams) fail(TVC_EINVALIDDATA, "more than 16 substreams");
  // Remaining header bytes belong to later minor versions: skipped.
  uint32_t seen = 0;
  for (uint8_t i = 0; i < count; ++i) {
    Substream s;
    s.kind = r.u8();
    const uint64_t n = r.uv();
    if (n > r.left()) fail(TVC_ETRUNCATED, "substream runs past the packet");
    const uint8_t* payload = r.bytes(static_cast<std::size_t>(n));
    if (s.kind == 0) fail(TVC_EINVALIDDATA, "substream kind 0");
    if (s.kind >= kFirstIgnorableSubstream) {
      // An extension: kept unparsed for the layers that know it (kind 128, the colour
      // correction, is read by codec/colour.py); everything else skips it. Any number allowed.
      s.payload.assign(payload, payload + n);
      p.substreams.push_back(std::move(s));
      continue;
    }
    if (s.kind != kSubstreamDiscrete && s.kind != kSubstreamContinuous)
      fail(TVC_EUNSUPPORTED_VERSION, "substream kind " + std::to_string(s.kind) +
                                         " is not known to this decoder");
    if (seen & (1u << s.kind)) fail(TVC_EINVALIDDATA, "two substreams of the same kind");
    seen |= 1u << s.kind;
    s.payload.assign(payload, payload + n);
    p.substreams.push_back(std::move(s));
  }
  if (r.left() != 0) fail(TVC_EINVALIDDATA, "bytes after the last substream");
  return p;
}

// ------------------------------------------------------------ end of stream

std::vector<uint8_t> write_end_of_stream(const EndOfStream& e) {
  if (e.gop_count > 0x100000000ull) fail(TVC_EINVAL, "end record: more than 2^32 GoPs");
  if (e.frame_count < e.gop_count || e.frame_count > e.gop_count * kMaxGopLength)
    fail(TVC_EINVAL, "end record: frame count does not fit the GoP count");
  ByteWriter fields;
  fields.uv(e.gop_count);
  fields.uv(e.frame_count);
  ByteWriter w;
  w.u8(kPacketEndOfStream);
  w.uv(fields.size());
  w.bytes(fields.buffer().data(), fields.size());
  finish_packet(w);
  return w.buffer();
}

EndOfStream parse_end_of_stream(const uint8_t* data, std::size_t size, const SequenceHeader* stream) {
  const std::size_t body = verified_body_size(data, size);
  ByteReader r(data, body, "end record");
  if (r.u8() != kPacketEndOfStream) fail(TVC_EINVALIDDATA, "not an end-of-stream packet");
  const uint64_t fields_size = r.uv();
  if (fields_size != r.left()) fail(TVC_EINVALIDDATA, "end record size field disagrees with the packet size");
  ByteReader f(r.bytes(static_cast<std::size_t>(fields_size)), static_cast<std::size_t>(fields_size),
               "end record");
  EndOfStream e;
  e.gop_count = f.uv();
  e.frame_count = f.uv();
  // Later minor versions may append fields: skipped.
  if (e.gop_count > 0x100000000ull) fail(TVC_EINVALIDDATA, "end record: GoP count above 2^32");
  const uint64_t gop_length = stream ? stream->gop_length : kMaxGopLength;
  // Every GoP but the last is full when the GoP length is known; each holds >= 1 frame.
  const uint64_t least = stream && e.gop_count ? (e.gop_count - 1) * gop_length + 1 : e.gop_count;
  if (e.frame_count < least || e.frame_count > e.gop_count * gop_length)
    fail(TVC_EINVALIDDATA, "end record: " + std::to_string(e.frame_count) + " frames cannot fill " +
                               std::to_string(e.gop_count) + " GoPs");
  return e;
}

// ------------------------------------------------------------ .tvc records

std::vector<uint8_t> write_record(const std::vector<uint8_t>& packet) {
  if (packet.empty() || packet.size() > kMaxPacketSize)
    fail(TVC_ELIMIT, "record packet must be 1 byte .. 64 MiB");
  ByteWriter w;
  w.bytes(kRecordSync, 2);
  w.uv(packet.size());
  w.bytes(packet.data(), packet.size());
  return w.buffer();
}

void RecordScanner::feed(const uint8_t* data, std::size_t size) {
  if (eof_) fail(TVC_EINVAL, "record scanner: data fed after finish()");
  // Drop consumed bytes before growing, so the buffer holds at most one record
  // plus the last piece fed.
  if (head_ > 0 && head_ >= buf_.size() / 2) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  buf_.insert(buf_.end(), data, data + size);
  const int64_t grow = size > (uint64_t{1} << 58) ? INT64_MAX / 2 : 8 * static_cast<int64_t>(size);
  resync_budget_ = std::min<int64_t>(resync_budget_ + grow, INT64_MAX / 2);
}

void RecordScanner::consume(std::size_t n) {
  head_ += n;
  base_ += n;
  if (head_ == buf_.size()) {
    buf_.clear();
    head_ = 0;
  }
}

// Looks at a record starting `at` bytes past the head. kIncomplete means the
// answer depends on bytes not yet fed; at end of input there is no such answer.
RecordScanner::Probe RecordScanner::probe(std::size_t at, ScannedRecord& rec, uint64_t& crc_cost) const {
  rec = ScannedRecord{};
  rec.offset = base_ + at;
  crc_cost = 0;
  const std::size_t avail = buffered() - at;
  try {
    ByteReader r(data() + at, avail, "record");
    const uint8_t* sync = r.bytes(2);
    if (sync[0] != kRecordSync[0] || sync[1] != kRecordSync[1]) fail(TVC_EINVALIDDATA, "no record sync");
    const uint64_t n = r.uv();
    // The limit is checked before waiting for (and buffering) the packet.
    if (n == 0 || n > kMaxPacketSize) fail(TVC_ELIMIT, "record size outside 1 byte .. 64 MiB");
    if (n > r.left()) fail(TVC_ETRUNCATED, "record runs past the end of the stream");
    const std::size_t framing = static_cast<std::size_t>(r.pos() - (data() + at));
    crc_cost = n;
    rec.type = packet_type(r.pos(), static_cast<std::size_t>(n));
    rec.size = framing + n;
    rec.packet.assign(r.pos(), r.pos() + n);
    return Probe::kValid;
  } catch (const Error& e) {
    // Running out of bytes is only damage once no more can come.
    if (e.code() == TVC_ETRUNCATED && crc_cost == 0 && !eof_) return Probe::kIncomplete;
    rec.error = e.code();
    rec.message = e.what();
    return Probe::kInvalid;
  }
}

RecordScanner::Status RecordScanner::next(ScannedRecord& out) {
  if (!signature_ok_) {
    if (buffered() < kSignatureSize && !eof_) return kNeedData;
    if (buffered() < kSignatureSize || std::memcmp(data(), kFileSignature, kSignatureSize) != 0)
      fail(TVC_EINVALIDDATA, "not a .tvc file (signature missing)");
    consume(kSignatureSize);
    signature_ok_ = true;
  }
  uint64_t cost = 0;
  if (!in_damage_) {
    if (buffered() == 0) return eof_ ? kEnd : kNeedData;
    ScannedRecord rec;
    const Probe p = probe(0, rec, cost);
    if (p == Probe::kIncomplete) return kNeedData;
    if (p == Probe::kValid) {
      consume(static_cast<std::size_t>(rec.size));
      out = std::move(rec);
      return kRecord;
    }
    // Damage: remember where it began, then look for the next sync that
    // starts a record with a valid CRC.
    in_damage_ = true;
    damage_start_ = base_;
    damage_error_ = rec.error;
    damage_message_ = rec.message;
    candidate_ = 1;
  }
  for (;;) {
    const std::size_t avail = buffered();
    bool found = false;
    if (resync_budget_ > 0) {
      const void* hit = candidate_ < avail ? std::memchr(data() + candidate_, kRecordSync[0], avail - candidate_)
                                           : nullptr;
      candidate_ = hit ? static_cast<std::size_t>(static_cast<const uint8_t*>(hit) - data()) : avail;
      found = hit != nullptr;
    } else {
      candidate_ = avail;  // out of budget: wait for more input, or give up at its end
    }
    if (!found) {
      // Nothing before candidate_ can start a record: forget those bytes.
      consume(candidate_);
      candidate_ = 0;
      if (!eof_) return kNeedData;
      out = ScannedRecord{};
      out.offset = damage_start_;
      out.size = base_ + buffered() - damage_start_;
      out.error = damage_error_;
      out.message = damage_message_;
      consume(buffered());
      in_damage_ = false;
      return kRecord;
    }
    ScannedRecord rec;
    const Probe p = probe(candidate_, rec, cost);
    if (p == Probe::kIncomplete) {
      consume(candidate_);
      candidate_ = 0;
      return kNeedData;
    }
    if (p == Probe::kInvalid) {
      resync_budget_ -= static_cast<int64_t>(cost) + 16;
      ++candidate_;
      continue;
    }
    out = ScannedRecord{};
    out.offset = damage_start_;
    out.size = base_ + candidate_ - damage_start_;
    out.error = damage_error_;
    out.message = damage_message_;
    consume(candidate_);
    candidate_ = 0;
    in_damage_ = false;
    return kRecord;  // the valid record comes with the next call
  }
}

std::vector<RecordInfo> scan_records(const uint8_t* data, std::size_t size) {
  RecordScanner scanner;
  scanner.feed(data, size);
  scanner.finish();
  std::vector<RecordInfo> out;
  ScannedRecord rec;
  while (scanner.next(rec) == RecordScanner::kRecord) {
    RecordInfo info;
    info.offset = static_cast<std::size_t>(rec.offset);
    info.type = rec.type;
    info.error = rec.error;
    info.message = std::move(rec.message);
    if (rec.error == 0) {
      info.packet_size = rec.packet.size();
      info.packet_offset = static_cast<std::size_t>(rec.offset + rec.size - rec.packet.size());
    } else {
      info.packet_offset = info.offset;
      info.packet_size = static_cast<std::size_t>(rec.size);
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace tvc
