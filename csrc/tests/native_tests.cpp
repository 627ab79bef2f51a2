// Native unit tests for the C++ core, run by tests/test_native.py (also in the
// ASan + UBSan build). Each CHECK that fails prints its line and the test
// program exits non-zero.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../core/bitstream.hpp"
#include "../core/bytes.hpp"
#include "../core/ccm.hpp"
#include "../core/intnet.hpp"
#include "../core/mask.hpp"
#include "../core/cdf.hpp"
#include "../core/crc32.hpp"
#include "../core/rans.hpp"
#include "../core/status.hpp"
#include "test_blobs.hpp"

namespace {

int g_failures = 0;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                        \
    }                                                                      \
  } while (0)

// Runs fn and returns the tvc error code it threw (0 if none).
int error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const tvc::Error& e) {
    return e.code();
  }
  return 0;
}

std::vector<int32_t> random_cdf(std::mt19937& rng, std::size_t n, int precision) {
  std::vector<uint32_t> counts(n);
  std::uniform_int_distribution<uint32_t> d(0, 1000);
  for (auto& c : counts) c = d(rng) * d(rng);
  std::vector<int32_t> cdf(n + 1);
  tvc::pmf_to_cdf(counts.data(), n, precision, cdf.data());
  return cdf;
}

void test_crc32() {
  const char* s = "123456789";
  CHECK(tvc::crc32(reinterpret_cast<const uint8_t*>(s), 9) == 0xCBF43926u);
  CHECK(tvc::crc32(nullptr, 0) == 0);
}

void test_cdf_helpers() {
  std::mt19937 rng(1);
  for (int precision : {1, 4, 12, 16}) {
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{16}}) {
      if (n > (std::size_t{1} << precision)) continue;
      auto cdf = random_cdf(rng, n, precision);
      CHECK(tvc::cdf_is_valid(cdf.data(), n, precision));
    }
  }
  // All-zero counts give a valid (uniform) CDF.
  std::vector<uint32_t> zeros(5, 0);
  std::vector<int32_t> cdf(6);
  tvc::pmf_to_cdf(zeros.data(), 5, 16, cdf.data());
  CHECK(tvc::cdf_is_valid(cdf.data(), 5, 16));
  // Extreme logits keep every symbol codable.
  std::vector<int32_t> logits = {2000000000, -2000000000, 0, 5};
  std::vector<int32_t> lcdf(5);
  std::vector<uint32_t> scratch(4);
  tvc::logits_to_cdf(logits.data(), 4, 16, lcdf.data(), scratch.data());
  CHECK(tvc::cdf_is_valid(lcdf.data(), 4, 16));
  CHECK(lcdf[1] > 65000);
  // The exp table starts at 2^30 and falls by exp(-1/16) per step.
  const uint32_t* e = tvc::exp_table();
  CHECK(e[0] == (1u << 30));
  CHECK(e[16] > 395000000u && e[16] < 395020000u);  // 2^30 / e = 395007542
  CHECK(error_of([] { tvc::check_alphabet(3, 1); }) == TVC_EINVAL);
  CHECK(error_of([] { tvc::check_alphabet(2, 17); }) == TVC_EINVAL);
}

void test_rans_indexed_round_trip() {
  std::mt19937 rng(2);
  for (int precision : {8, 12, 16}) {
    const std::size_t tables = 7, stride = 40;
    std::vector<int32_t> cdfs(tables * stride, 0), sizes(tables), offsets(tables);
    for (std::size_t t = 0; t < tables; ++t) {
      sizes[t] = static_cast<int32_t>(2 + t * 5);
      offsets[t] = static_cast<int32_t>(t) - 3;
      auto cdf = random_cdf(rng, static_cast<std::size_t>(sizes[t]), precision);
      std::copy(cdf.begin(), cdf.end(), cdfs.begin() + static_cast<std::ptrdiff_t>(t * stride));
    }
    tvc::CdfTable table(cdfs.data(), tables, stride, sizes.data(), offsets.data(), precision, true);
    const std::size_t n = 5000;
    std::vector<int32_t> values(n), indexes(n);
    std::uniform_int_distribution<int> pick(0, static_cast<int>(tables) - 1);
    std::uniform_int_distribution<int32_t> wide(INT32_MIN, INT32_MAX);
    for (std::size_t k = 0; k < n; ++k) {
      indexes[k] = pick(rng);
      const int32_t lo = offsets[indexes[k]];
      values[k] = (k % 97 == 0) ? wide(rng) : lo + static_cast<int32_t>(rng() % (sizes[indexes[k]] - 1));
    }
    values[1] = INT32_MIN;
    values[2] = INT32_MAX;
    tvc::RansEncoder enc(precision);
    enc.encode_indexed(values.data(), indexes.data(), n, table);
    const auto stream = enc.finish();
    tvc::RansDecoder dec(stream.data(), stream.size(), precision);
    std::vector<int32_t> out(n);
    dec.decode_indexed(indexes.data(), n, table, out.data());
    dec.finish();
    CHECK(out == values);
  }
}

void test_rans_mixed_round_trip() {
  std::mt19937 rng(3);
  const std::size_t n = 2000, alphabet = 300;
  std::vector<int32_t> symbols(n), logits(n * alphabet);
  std::vector<uint32_t> counts(n * alphabet), bits(n);
  for (auto& l : logits) l = static_cast<int32_t>(rng() % 2000) - 1000;
  for (auto& c : counts) c = static_cast<uint32_t>(rng() % 100);
  for (auto& s : symbols) s = static_cast<int32_t>(rng() % alphabet);
  for (auto& b : bits) b = static_cast<uint32_t>(rng());
  tvc::RansEncoder enc(16);
  enc.encode_logits(symbols.data(), logits.data(), n, alphabet);
  enc.encode_counts(symbols.data(), counts.data(), n, alphabet);
  for (auto b : bits) enc.put_bits(b, 32);
  const auto stream = enc.finish();
  tvc::RansDecoder dec(stream.data(), stream.size(), 16);
  std::vector<int32_t> a(n), b(n);
  dec.decode_logits(logits.data(), n, alphabet, a.data());
  dec.decode_counts(counts.data(), n, alphabet, b.data());
  bool bits_ok = true;
  for (auto v : bits) bits_ok &= dec.get_bits(32) == v;
  dec.finish();
  CHECK(a == symbols);
  CHECK(b == symbols);
  CHECK(bits_ok);
}

void test_rans_damage() {
  std::vector<int32_t> cdf = {0, 1000, 65536};
  std::vector<int32_t> symbols(1000);
  for (std::size_t k = 0; k < symbols.size(); ++k) symbols[k] = static_cast<int32_t>(k % 7 == 0);
  std::vector<int32_t> cdfs;
  for (std::size_t k = 0; k < symbols.size(); ++k) cdfs.insert(cdfs.end(), cdf.begin(), cdf.end());
  tvc::RansEncoder enc(16);
  enc.encode_cdfs(symbols.data(), cdfs.data(), symbols.size(), 2);
  const auto stream = enc.finish();
  std::vector<int32_t> out(symbols.size());
  // Truncated streams end in TVC_ETRUNCATED (or invalid data), never out of bounds.
  for (std::size_t cut = 0; cut < stream.size(); cut += 2) {
    const int err = error_of([&] {
      tvc::RansDecoder dec(stream.data(), cut, 16);
      dec.decode_cdfs(cdfs.data(), symbols.size(), 2, out.data());
      dec.finish();
    });
    CHECK(err == TVC_ETRUNCATED || err == TVC_EINVALIDDATA);
  }
  // Extra bytes are detected by finish().
  std::vector<uint8_t> longer = stream;
  longer.push_back(0);
  longer.push_back(0);
  CHECK(error_of([&] {
          tvc::RansDecoder dec(longer.data(), longer.size(), 16);
          dec.decode_cdfs(cdfs.data(), symbols.size(), 2, out.data());
          dec.finish();
        }) == TVC_EINVALIDDATA);
  // An invalid per-position CDF is refused at both ends.
  std::vector<int32_t> bad = {0, 0, 65536};
  int32_t one = 1;
  CHECK(error_of([&] {
          tvc::RansEncoder e(16);
          e.encode_cdfs(&one, bad.data(), 1, 2);
        }) == TVC_EINVAL);
  CHECK(error_of([&] {
          tvc::RansDecoder dec(stream.data(), stream.size(), 16);
          dec.decode_cdfs(bad.data(), 1, 2, out.data());
        }) == TVC_EINVAL);
}

tvc::SequenceHeader sample_header() {
  tvc::SequenceHeader h;
  h.model_id = "tvc-s-v1";
  for (int i = 0; i < 32; ++i) h.weights_sha256[static_cast<std::size_t>(i)] = static_cast<uint8_t>(i * 7);
  h.width = 640;
  h.height = 272;
  h.frame_rate = {25, 1};
  h.time_base = {1, 25};
  h.sample_aspect_ratio = {1, 1};
  h.colorspace = 5;
  h.color_range = 1;
  h.gop_length = 17;
  return h;
}

void test_bitstream() {
  const auto h = sample_header();
  const auto bytes = tvc::write_sequence_header(h);
  const auto h2 = tvc::parse_sequence_header(bytes.data(), bytes.size());
  CHECK(h2.model_id == h.model_id && h2.width == 640 && h2.height == 272 && h2.gop_length == 17);
  CHECK(h2.weights_sha256 == h.weights_sha256 && h2.colorspace == 5 && h2.color_range == 1);

  tvc::GopPacket p;
  p.gop_index = 3;
  p.frame_count = 17;
  p.first_pts = -5;
  p.quality = 4;
  p.mask_pattern = 2;
  p.coded_width = 320;
  p.coded_height = 136;
  p.substreams.push_back({tvc::kSubstreamDiscrete, std::vector<uint8_t>(100, 0xab)});
  p.substreams.push_back({200, std::vector<uint8_t>(3, 1)});  // ignorable extension
  const auto pb = tvc::write_gop_packet(p);
  tvc::SequenceHeader stream;
  stream.gop_length = 17;
  stream.width = 640;
  stream.height = 272;
  const auto p2 = tvc::parse_gop_packet(pb.data(), pb.size(), &stream);
  CHECK(p2.gop_index == 3 && p2.frame_count == 17 && p2.first_pts == -5 && p2.quality == 4);
  CHECK(p2.coded_width == 320 && p2.coded_height == 136);
  // Ignorable kinds are kept for the layers that know them (kind 128: colour correction).
  CHECK(p2.substreams.size() == 2 && p2.substreams[0].payload.size() == 100);
  CHECK(p2.substreams[1].kind == 200 && p2.substreams[1].payload.size() == 3);

  // Every single-byte flip is caught (the CRC covers the whole packet).
  for (std::size_t i = 0; i < pb.size(); ++i) {
    auto bad = pb;
    bad[i] ^= 0x01;
    CHECK(error_of([&] { tvc::parse_gop_packet(bad.data(), bad.size(), &stream); }) != 0);
  }
  // Every truncation is caught.
  for (std::size_t cut = 0; cut < pb.size(); ++cut)
    CHECK(error_of([&] { tvc::parse_gop_packet(pb.data(), cut, &stream); }) != 0);
  // frame_count above the stream's GoP length; coded size above twice the picture.
  stream.gop_length = 16;
  CHECK(error_of([&] { tvc::parse_gop_packet(pb.data(), pb.size(), &stream); }) == TVC_EINVALIDDATA);
  stream.gop_length = 17;
  stream.width = 159;
  CHECK(error_of([&] { tvc::parse_gop_packet(pb.data(), pb.size(), &stream); }) == TVC_EINVALIDDATA);

  // File scan: header + 3 GoPs, damage in the middle one, resync after it.
  std::vector<uint8_t> file(tvc::kFileSignature, tvc::kFileSignature + tvc::kSignatureSize);
  auto append = [&](const std::vector<uint8_t>& pkt) {
    const auto rec = tvc::write_record(pkt);
    file.insert(file.end(), rec.begin(), rec.end());
  };
  append(bytes);
  append(pb);
  const std::size_t damaged_at = file.size() + 10;
  append(pb);
  append(pb);
  file[damaged_at] ^= 0xff;
  const auto recs = tvc::scan_records(file.data(), file.size());
  CHECK(recs.size() == 4);
  if (recs.size() == 4) {
    CHECK(recs[0].error == 0 && recs[0].type == tvc::kPacketSequenceHeader);
    CHECK(recs[1].error == 0 && recs[1].type == tvc::kPacketGop);
    CHECK(recs[2].error == TVC_ECRC);
    CHECK(recs[3].error == 0);
  }

  // The incremental scanner fed one byte at a time finds the same records.
  tvc::RecordScanner scanner;
  std::vector<tvc::ScannedRecord> pieces;
  tvc::ScannedRecord rec;
  for (std::size_t i = 0; i <= file.size(); ++i) {
    if (i < file.size()) scanner.feed(&file[i], 1); else scanner.finish();
    while (scanner.next(rec) == tvc::RecordScanner::kRecord) pieces.push_back(rec);
    CHECK(scanner.buffered() <= pb.size() + 16);  // never more than one record held
  }
  CHECK(pieces.size() == recs.size());
  for (std::size_t i = 0; i < pieces.size() && i < recs.size(); ++i)
    CHECK(pieces[i].offset == recs[i].offset && pieces[i].error == recs[i].error);

  // End-of-stream packet: round trip, and a frame count that cannot fill the GoPs.
  const auto end = tvc::write_end_of_stream(tvc::EndOfStream{3, 40});
  const tvc::EndOfStream e = tvc::parse_end_of_stream(end.data(), end.size(), &h);
  CHECK(e.gop_count == 3 && e.frame_count == 40);
  const auto bad_end = tvc::write_end_of_stream(tvc::EndOfStream{3, 20});
  CHECK(error_of([&] { tvc::parse_end_of_stream(bad_end.data(), bad_end.size(), &h); }) == TVC_EINVALIDDATA);
}

// Random parameters of one layer (weights, bias, multiplier 2^20, shift 30
// for hidden layers and 28 for logits), in blob order.
void put_layer_params(std::mt19937& rng, tvc::ByteWriter& w, int ci, int co, int k, bool relu) {
  for (int i = 0; i < co * ci * k * k; ++i) w.u8(static_cast<uint8_t>(static_cast<int8_t>(rng() % 255 - 127)));
  for (int i = 0; i < co; ++i) w.u32(static_cast<uint32_t>(rng() % 256));
  for (int i = 0; i < co; ++i) w.u32(1u << 20);
  for (int i = 0; i < co; ++i) w.u8(relu ? 30 : 28);
}

// The "TVCN" blob of a random net: a 3x3 hidden layer, then a 1x1 layer that
// outputs logits, or hidden features (hidden_last, a CCM trunk with digit heads).
std::vector<uint8_t> random_net_blob(std::mt19937& rng, int cin, int hidden, int cout, bool hidden_last = false) {
  tvc::ByteWriter w;
  tvc::test_blobs::net_header(w, 2);
  auto layer = [&](int ci, int co, int k, bool relu) {
    tvc::test_blobs::layer_header(w, ci, co, k, relu);
    put_layer_params(rng, w, ci, co, k, relu);
  };
  layer(cin, hidden, 3, true);
  layer(hidden, cout, 1, hidden_last);
  return w.buffer();
}

// A small random integer net, round-tripped through its blob format.
tvc::IntNet random_net(std::mt19937& rng, int cin, int hidden, int cout) {
  const std::vector<uint8_t> blob = random_net_blob(rng, cin, hidden, cout);
  tvc::IntNet net = tvc::IntNet::parse(blob.data(), blob.size());
  const auto again = net.serialize();
  CHECK(again == blob);
  return net;
}

void test_checkerboard_coder() {
  std::mt19937 rng(9);
  const std::vector<int> levels = {8, 5, 5};
  tvc::CheckerboardCoder coder(random_net(rng, 8, 6, 18), levels);
  const int t = 2, h = 5, w = 7, d = 3;
  std::vector<int32_t> digits(static_cast<std::size_t>(t * h * w * d));
  for (std::size_t k = 0; k < digits.size(); ++k)
    digits[k] = static_cast<int32_t>(rng() % static_cast<uint32_t>(levels[k % 3]));
  tvc::RansEncoder enc(16);
  coder.encode(digits.data(), t, h, w, 0, enc);
  const auto stream = enc.finish();
  std::vector<int32_t> out(digits.size(), 0);
  tvc::RansDecoder dec(stream.data(), stream.size(), 16);
  coder.decode(dec, t, h, w, 0, out.data());
  dec.finish();
  CHECK(out == digits);
  // With a mask pattern only kept digits travel; dropped ones stay untouched.
  for (int pattern = 1; pattern < tvc::kNumMaskPatterns; ++pattern) {
    tvc::RansEncoder e2(16);
    coder.encode(digits.data(), t, h, w, pattern, e2);
    const auto s2 = e2.finish();
    CHECK(s2.size() < stream.size());
    std::vector<int32_t> o2(digits.size(), -1);
    tvc::RansDecoder d2(s2.data(), s2.size(), 16);
    coder.decode(d2, t, h, w, pattern, o2.data());
    d2.finish();
    for (int f = 0; f < t; ++f)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int k = 0; k < d; ++k) {
            const std::size_t i = ((static_cast<std::size_t>(f) * h + y) * w + x) * d + k;
            CHECK(o2[i] == (tvc::token_kept(pattern, f, y, x) ? digits[i] : -1));
          }
  }
  CHECK(error_of([&] {
          tvc::RansDecoder d3(stream.data(), stream.size(), 16);
          std::vector<int32_t> o(digits.size(), 0);
          coder.decode(d3, t, h, w, 7, o.data());
        }) == TVC_EINVALIDDATA);
  // Truncation ends in an error, not a crash.
  CHECK(error_of([&] {
          tvc::RansDecoder bad(stream.data(), stream.size() / 2 & ~std::size_t{1}, 16);
          std::vector<int32_t> o(digits.size(), 0);
          coder.decode(bad, t, h, w, 0, o.data());
          bad.finish();
        }) != 0);
  // A net that does not fit the levels is refused.
  CHECK(error_of([&] { tvc::CheckerboardCoder c(random_net(rng, 8, 4, 17), levels); }) ==
        TVC_EINVALIDDATA);
}

// A CCM v2 container ("TVCM") around a random trunk, with random digit heads
// when heads is set (trunk features F = 6).
std::vector<uint8_t> random_ccm_v2(std::mt19937& rng, const std::vector<int>& levels, int prev_frames, bool heads) {
  const int D = static_cast<int>(levels.size());
  int total = 0;
  for (int L : levels) total += L;
  const int features = 6;
  const auto trunk = random_net_blob(rng, prev_frames * (D + 1) + D + 1, 5, heads ? features : total, heads);
  tvc::ByteWriter w;
  tvc::test_blobs::ccm_header(w, prev_frames, heads, trunk);
  int cin = features;
  for (int d = 0; heads && d < D; ++d) {
    tvc::test_blobs::head_header(w, cin, levels[d]);
    put_layer_params(rng, w, cin, levels[d], 1, false);
    cin += levels[d];
  }
  return w.buffer();
}

// Encodes and decodes a random grid under every mask pattern; returns the pattern-0 stream.
std::vector<uint8_t> check_round_trip(const tvc::CheckerboardCoder& coder, std::mt19937& rng, int t, int h, int w) {
  const int D = coder.dims();
  std::vector<int32_t> digits(static_cast<std::size_t>(t * h * w * D));
  for (std::size_t k = 0; k < digits.size(); ++k)
    digits[k] = static_cast<int32_t>(rng() % static_cast<uint32_t>(k % 2 ? 5 : 8));  // fits levels {8, 5, ...} only
  std::vector<uint8_t> first;
  for (int pattern = 0; pattern < tvc::kNumMaskPatterns; ++pattern) {
    tvc::RansEncoder enc(16);
    coder.encode(digits.data(), t, h, w, pattern, enc);
    const auto stream = enc.finish();
    if (pattern == 0) first = stream;
    std::vector<int32_t> out(digits.size(), -1);
    tvc::RansDecoder dec(stream.data(), stream.size(), 16);
    coder.decode(dec, t, h, w, pattern, out.data());
    dec.finish();
    for (int f = 0; f < t; ++f)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int k = 0; k < D; ++k) {
            const std::size_t i = ((static_cast<std::size_t>(f) * h + y) * w + x) * D + k;
            CHECK(out[i] == (tvc::token_kept(pattern, f, y, x) ? digits[i] : -1));
          }
  }
  return first;
}

void test_ccm_v2_round_trip() {
  std::mt19937 rng(21);
  const std::vector<int> levels = {8, 5, 8, 5};
  for (int k : {1, 2})
    for (bool heads : {false, true}) {
      const auto blob = random_ccm_v2(rng, levels, k, heads);
      const auto coder = tvc::CheckerboardCoder::parse(blob.data(), blob.size(), levels);
      CHECK(coder.prev_frames() == k && coder.digit_heads() == heads);
      CHECK(coder.context_channels() == (k + 1) * 5);
      CHECK(coder.serialize_v2() == blob);
      const auto stream = check_round_trip(coder, rng, 3, 4, 6);
      CHECK(!stream.empty());
    }
  // A v2 container with K = 1 and no heads is the v1 model: same stream bytes.
  const auto trunk = random_net_blob(rng, 10, 5, 26);
  const auto v1 = tvc::CheckerboardCoder::parse(trunk.data(), trunk.size(), levels);
  CHECK(!v1.digit_heads() && v1.prev_frames() == 1);
  const auto v2_blob = v1.serialize_v2();
  const auto v2 = tvc::CheckerboardCoder::parse(v2_blob.data(), v2_blob.size(), levels);
  std::mt19937 a(5), b(5);
  CHECK(check_round_trip(v1, a, 2, 3, 5) == check_round_trip(v2, b, 2, 3, 5));

  // K = 2 layout: block 0 is frame f-1, block 1 frame f-2 (absent for f = 1),
  // then the anchors of frame f in pass 1.
  const auto k2_blob = random_ccm_v2(rng, levels, 2, true);
  const auto k2 = tvc::CheckerboardCoder::parse(k2_blob.data(), k2_blob.size(), levels);
  const int t = 3, h = 2, w = 2, D = 4;
  std::vector<int32_t> digits(static_cast<std::size_t>(t * h * w * D));
  for (std::size_t i = 0; i < digits.size(); ++i) digits[i] = static_cast<int32_t>(i % 5);
  std::vector<int32_t> planes(static_cast<std::size_t>(15 * h * w));
  auto at = [&](int c, int y, int x) { return planes[static_cast<std::size_t>((c * h + y) * w + x)]; };
  auto level_of = [&](int d) { return levels[static_cast<std::size_t>(d)]; };
  auto digit = [&](int f, int y, int x, int d) { return digits[static_cast<std::size_t>(((f * h + y) * w + x) * D + d)]; };
  k2.context(digits.data(), 2, 1, h, w, 0, planes.data());
  for (int d = 0; d < D; ++d) {
    CHECK(at(d, 1, 0) == 2 * digit(1, 1, 0, d) - (level_of(d) - 1));
    CHECK(at(5 + d, 0, 1) == 2 * digit(0, 0, 1, d) - (level_of(d) - 1));
    CHECK(at(10 + d, 1, 1) == 2 * digit(2, 1, 1, d) - (level_of(d) - 1));  // anchor
    CHECK(at(10 + d, 0, 1) == 0);                                          // not an anchor
  }
  CHECK(at(4, 0, 0) == 127 && at(9, 0, 0) == 127 && at(14, 0, 0) == 127 && at(14, 1, 0) == 0);
  k2.context(digits.data(), 1, 0, h, w, 0, planes.data());
  CHECK(at(4, 0, 0) == 127 && at(9, 0, 0) == 0 && at(5, 0, 1) == 0 && at(14, 0, 0) == 0);
}

// ---------------------------------------------------------------- IntNet kernels
// IntNet::run packs activations as int16, adds the products in blocks (SSE2
// or the portable loop, TVC_INTNET_PORTABLE) and, with a `need` mask, computes
// only what the flagged outputs reach. Random nets at the limits of the blob
// format are checked against a naive int64 loop written from the spec in
// intnet.hpp, and masked runs against unmasked ones. The same tests run in a
// build with TVC_INTNET_PORTABLE (tvc_native_tests_portable); both print a
// digest of every output, which tests/test_native.py compares.

// The spec's rescale, written out again rather than calling tvc::requantize.
int32_t spec_requantize(int64_t acc, int32_t mult, int shift, bool relu) {
  const int64_t v = (acc * mult + (int64_t{1} << (shift - 1))) >> shift;
  const int64_t lo = relu ? 0 : -(int64_t{1} << 20), hi = relu ? 127 : (int64_t{1} << 20);
  return static_cast<int32_t>(std::min(hi, std::max(lo, v)));
}

// Naive forward pass: channel-major planes, zero outside the grid. Also checks
// the header's promise that the accumulator fits int32.
std::vector<int32_t> spec_forward(const tvc::IntNet& net, const std::vector<int32_t>& in, int h, int w) {
  std::vector<int32_t> cur = in;
  const std::size_t plane = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  for (const tvc::IntConv& L : net.layers()) {
    std::vector<int32_t> next(plane * static_cast<std::size_t>(L.cout));
    const int r = L.kernel / 2;
    for (int o = 0; o < L.cout; ++o)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          int64_t acc = L.bias[static_cast<std::size_t>(o)];
          for (int i = 0; i < L.cin; ++i)
            for (int dy = 0; dy < L.kernel; ++dy)
              for (int dx = 0; dx < L.kernel; ++dx) {
                const int yy = y + dy - r, xx = x + dx - r;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                acc += int64_t{L.weight[((static_cast<std::size_t>(o) * L.cin + i) * L.kernel + dy) * L.kernel + dx]} *
                       cur[static_cast<std::size_t>(i) * plane + static_cast<std::size_t>(yy) * w + xx];
              }
          CHECK(acc >= INT32_MIN && acc <= INT32_MAX);
          next[static_cast<std::size_t>(o) * plane + static_cast<std::size_t>(y) * w + x] =
              spec_requantize(acc, L.mult[static_cast<std::size_t>(o)], L.shift[static_cast<std::size_t>(o)], L.relu);
        }
    cur = std::move(next);
  }
  return cur;
}

struct LayerShape {
  int cin, cout, kernel;
  bool relu;
};

// One layer's parameters in blob order, mixing ordinary values with the
// extremes the format allows. Most output channels get a multiplier and shift
// scaled to the fan-in (so outputs spread over the clamp range instead of all
// sitting at a bound); the rest get extreme ones (mult 0, 1 or 2^31 - 1,
// shift 1 or 62, bias +-2^30).
void put_kernel_test_params(std::mt19937& rng, tvc::ByteWriter& w, const LayerShape& s) {
  const int n = s.cout * s.cin * s.kernel * s.kernel;
  const int style = static_cast<int>(rng() % 4);
  const int sign = rng() % 2 ? 127 : -127;
  for (int i = 0; i < n; ++i) {
    int v = static_cast<int>(rng() % 255) - 127;                   // 0: uniform
    if (style == 1) v = rng() % 2 ? 127 : -127;                    // 1: every weight at +-127
    if (style == 2) v = sign;                                      // 2: all one extreme (largest sums)
    if (style == 3 && rng() % 8 != 0) v = 0;                       // 3: sparse
    w.u8(static_cast<uint8_t>(static_cast<int8_t>(v)));
  }
  const double fan_in = s.cin * s.kernel * s.kernel;
  const double typical = 127.0 * 64.0 * std::sqrt(fan_in);  // rms weight ~73, input ~64
  std::vector<int32_t> bias(static_cast<std::size_t>(s.cout)), mult(bias.size());
  std::vector<uint8_t> shift(bias.size());
  for (std::size_t o = 0; o < bias.size(); ++o) {
    if (rng() % 4 != 0) {
      bias[o] = static_cast<int32_t>(rng() % static_cast<uint32_t>(2 * typical + 1)) - static_cast<int32_t>(typical);
      shift[o] = 30;
      const double target = s.relu ? 64.0 : 4096.0;  // output scale: mid-range ReLU, or logits of some nats
      mult[o] = static_cast<int32_t>(target / typical * (1 << 30) * (0.5 + static_cast<double>(rng() % 1000) / 666.0));
    } else {
      const int32_t extreme_bias[] = {1 << 30, -(1 << 30), 0, static_cast<int32_t>(rng() % 2001) - 1000};
      const int32_t extreme_mult[] = {0, 1, INT32_MAX, static_cast<int32_t>(rng() >> 1)};
      const uint8_t extreme_shift[] = {1, 62, static_cast<uint8_t>(1 + rng() % 62)};
      bias[o] = extreme_bias[rng() % 4];
      mult[o] = extreme_mult[rng() % 4];
      shift[o] = extreme_shift[rng() % 3];
    }
  }
  for (int32_t v : bias) w.u32(static_cast<uint32_t>(v));
  for (int32_t v : mult) w.u32(static_cast<uint32_t>(v));
  for (uint8_t v : shift) w.u8(v);
}

tvc::IntNet kernel_test_net(std::mt19937& rng, const std::vector<LayerShape>& shapes) {
  tvc::ByteWriter w;
  tvc::test_blobs::net_header(w, static_cast<int>(shapes.size()));
  for (const LayerShape& s : shapes) {
    tvc::test_blobs::layer_header(w, s.cin, s.cout, s.kernel, s.relu);
    put_kernel_test_params(rng, w, s);
  }
  const std::vector<uint8_t>& blob = w.buffer();
  tvc::IntNet net = tvc::IntNet::parse(blob.data(), blob.size(), tvc::IntNet::LastLayer::kEither);
  CHECK(net.serialize() == blob);
  return net;
}

// Random shapes: 1-4 layers, 1x1 or 3x3, channel counts around the kernel's
// blocks of 4 outputs and 8 int16 lanes, a hidden or a logit last layer.
std::vector<LayerShape> random_shapes(std::mt19937& rng) {
  const int widths[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17, 24, 31, 33};
  const int layers = 1 + static_cast<int>(rng() % 4);
  std::vector<LayerShape> shapes;
  int cin = widths[rng() % 15];
  for (int l = 0; l < layers; ++l) {
    const int cout = widths[rng() % 15];
    const bool last = l + 1 == layers;
    shapes.push_back({cin, cout, rng() % 2 ? 3 : 1, last ? rng() % 3 == 0 : true});
    cin = cout;
  }
  return shapes;
}

// Need masks of several kinds for an h x w grid (empty vector: no mask).
std::vector<std::vector<uint8_t>> need_masks(std::mt19937& rng, int h, int w) {
  const std::size_t plane = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  std::vector<std::vector<uint8_t>> masks = {{}, std::vector<uint8_t>(plane, 0), std::vector<uint8_t>(plane, 1)};
  for (int pass = 0; pass < 2; ++pass) {  // the CCM coder's checkerboard passes
    std::vector<uint8_t> m(plane);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) m[static_cast<std::size_t>(y) * w + x] = ((y + x + pass) & 1) == 0;
    masks.push_back(m);
  }
  for (uint32_t per_mille : {30u, 300u, 800u}) {
    std::vector<uint8_t> m(plane);
    for (auto& v : m) v = rng() % 1000 < per_mille ? static_cast<uint8_t>(1 + rng() % 255) : uint8_t{0};  // any non-zero byte counts
    masks.push_back(m);
  }
  std::vector<uint8_t> one(plane, 0);
  one[rng() % plane] = 1;
  masks.push_back(one);
  return masks;
}

struct KernelRunStats {
  uint32_t digest = 0;
  std::size_t runs = 0, outputs = 0, inside_clamp = 0;
};

// Runs one net on one input under every need mask: the unmasked output must
// equal the spec; a masked one must equal it where flagged and be 0 elsewhere
// (out starts as garbage, so "0" is written, not left over).
void check_net_on_grid(const tvc::IntNet& net, std::mt19937& rng, int h, int w, bool extreme_input, KernelRunStats& st) {
  const std::size_t plane = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  std::vector<int32_t> in(plane * static_cast<std::size_t>(net.in_channels()));
  for (auto& v : in) v = extreme_input ? (rng() % 2 ? 127 : -127) : static_cast<int32_t>(rng() % 255) - 127;
  const std::vector<int32_t> expect = spec_forward(net, in, h, w);
  const bool logits = !net.layers().back().relu;
  for (int32_t v : expect) st.inside_clamp += logits ? (v > -(1 << 20) && v < (1 << 20)) : (v > 0 && v < 127);
  st.outputs += expect.size();
  for (const auto& need : need_masks(rng, h, w)) {
    std::vector<int32_t> out(expect.size(), 0x5A5A5A5A);
    net.run(in.data(), h, w, out.data(), need.empty() ? nullptr : need.data());
    bool ok = true;
    for (std::size_t k = 0; k < out.size(); ++k) {
      const bool needed = need.empty() || need[k % plane] != 0;
      ok &= out[k] == (needed ? expect[k] : 0);
    }
    if (!ok)
      std::fprintf(stderr, "IntNet mismatch: %dx%d grid, %zu layers, %s mask\n", h, w, net.layers().size(),
                   need.empty() ? "no" : "a");
    CHECK(ok);
    st.digest = tvc::crc32(reinterpret_cast<const uint8_t*>(out.data()), out.size() * sizeof(int32_t), st.digest);
    ++st.runs;
  }
}

void test_intnet_kernels() {
  std::mt19937 rng(77);
  KernelRunStats st;
  const int grids[][2] = {{1, 1}, {1, 2}, {1, 7}, {2, 1}, {2, 3}, {3, 3}, {5, 4}, {4, 16}, {7, 2}, {9, 23}};
  // Random nets, each on a few grids (one IntNet reused across sizes, so
  // scratch buffers left from a larger grid must not leak into a smaller one).
  for (int n = 0; n < 60; ++n) {
    const tvc::IntNet net = kernel_test_net(rng, random_shapes(rng));
    for (int g = 0; g < 3; ++g) {
      const auto& hw = grids[rng() % 10];
      check_net_on_grid(net, rng, hw[0], hw[1], n % 5 == 0, st);
    }
  }
  // Fixed shapes at the limits: the largest 3x3 fan-in (455 x 9 = 4095) with
  // every weight and input at +-127, partial sums near 2^26; 512 channels;
  // a CCM-like trunk (3x3 then 1x1 layers, hidden last for digit heads).
  const std::vector<std::vector<LayerShape>> fixed = {
      {{455, 5, 3, false}},
      {{3, 512, 1, true}, {512, 6, 1, false}},
      {{25, 48, 3, true}, {48, 48, 3, true}, {48, 48, 1, true}, {48, 96, 1, true}},
      {{1, 1, 3, true}, {1, 1, 3, true}, {1, 1, 3, false}},
  };
  for (const auto& shapes : fixed) {
    const tvc::IntNet net = kernel_test_net(rng, shapes);
    check_net_on_grid(net, rng, 9, 23, true, st);
    check_net_on_grid(net, rng, 1, 1, false, st);
    check_net_on_grid(net, rng, 3, 5, false, st);
  }
  // Most outputs off the clamp bounds, so the sums are really compared.
  CHECK(st.inside_clamp * 2 > st.outputs);
  std::printf("intnet kernel digest %08x over %zu runs (%zu of %zu outputs inside the clamp)\n", st.digest, st.runs,
              st.inside_clamp, st.outputs);
  // Inputs outside [-127, 127] and empty grids are refused.
  const tvc::IntNet net = kernel_test_net(rng, {{2, 3, 3, false}});
  std::vector<int32_t> in(8, 0), out(12, 0);
  in[5] = 128;
  CHECK(error_of([&] { net.run(in.data(), 2, 2, out.data()); }) == TVC_EINVAL);
  in[5] = -128;
  CHECK(error_of([&] { net.run(in.data(), 2, 2, out.data()); }) == TVC_EINVAL);
  CHECK(error_of([&] { net.run(in.data(), 0, 2, out.data()); }) == TVC_EINVAL);
}

// Runs fn and returns "code: message" of the tvc::Error it threw ("" if none).
std::string failure_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const tvc::Error& e) {
    return std::to_string(e.code()) + ": " + e.what();
  }
  return "";
}

bool refused(const std::vector<uint8_t>& blob, const std::vector<int>& levels, int code, const char* fragment) {
  const std::string why = failure_of([&] { tvc::CheckerboardCoder::parse(blob.data(), blob.size(), levels); });
  const bool ok = why.rfind(std::to_string(code) + ": ", 0) == 0 && why.find(fragment) != std::string::npos;
  if (!ok) std::fprintf(stderr, "expected refusal %d '%s', got '%s'\n", code, fragment, why.c_str());
  return ok;
}

void test_ccm_v2_refusals() {
  std::mt19937 rng(33);
  const std::vector<int> levels = {8, 5, 5};
  const auto good = random_ccm_v2(rng, levels, 2, true);
  CHECK(failure_of([&] { tvc::CheckerboardCoder::parse(good.data(), good.size(), levels); }).empty());
  const std::size_t trunk_size = good[8] | good[9] << 8 | good[10] << 16 | static_cast<std::size_t>(good[11]) << 24;
  const std::size_t head0 = 12 + trunk_size;  // cin u16, cout u16, then 8 x 6 weights
  auto with = [&](std::size_t pos, uint8_t v) {
    auto b = good;
    b[pos] = v;
    return b;
  };
  const int bad = TVC_EINVALIDDATA;
  CHECK(refused(with(3, 'X'), levels, bad, "magic"));
  CHECK(refused({}, levels, bad, "magic"));
  CHECK(refused(with(4, 3), levels, bad, "version 3"));
  CHECK(refused(with(6, 0), levels, bad, "prev_frames 0"));
  CHECK(refused(with(6, 3), levels, bad, "prev_frames 3"));
  CHECK(refused(with(7, 2), levels, bad, "digit_heads flag 2"));
  CHECK(refused(with(11, 1), levels, TVC_ETRUNCATED, "trunk length"));
  CHECK(refused(with(12, 'X'), levels, bad, "not an integer network blob"));
  // K must match the trunk's inputs: a K = 2 trunk read as K = 1.
  CHECK(refused(with(6, 1), levels, bad, "context planes"));
  // Heads flag off: the trunk's hidden last layer is refused; and a logit trunk with heads on.
  CHECK(refused(with(7, 0), levels, bad, "must output logits"));
  const auto no_heads = random_ccm_v2(rng, levels, 2, false);
  auto heads_on = no_heads;
  heads_on[7] = 1;
  CHECK(refused(heads_on, levels, bad, "must be hidden"));
  CHECK(refused(with(head0, 7), levels, bad, "digit head 0 is 7 -> 8"));
  CHECK(refused(with(head0 + 2, 5), levels, bad, "digit head 0 is 6 -> 5"));
  CHECK(refused(with(head0 + 4, 0x80), levels, bad, "CCM digit head 0 weight -128"));
  const std::size_t head0_bias = head0 + 4 + 8 * 6;
  CHECK(refused(with(head0_bias + 3, 0x7f), levels, bad, "CCM digit head 0 bias out of range"));
  CHECK(refused(with(head0_bias + 4 * 8 + 3, 0x80), levels, bad, "CCM digit head 0 multiplier out of range"));
  CHECK(refused(with(head0_bias + 8 * 8, 0), levels, bad, "CCM digit head 0 shift out of range"));
  CHECK(refused(with(head0_bias + 8 * 8, 63), levels, bad, "CCM digit head 0 shift out of range"));
  const std::size_t head1 = head0_bias + 8 * 9;
  CHECK(refused(with(head1, 6), levels, bad, "digit head 1 is 6 -> 5 channels, the trunk and levels need 14 -> 5"));
  auto trailing = good;
  trailing.push_back(0);
  CHECK(refused(trailing, levels, bad, "bytes after the last CCM digit head"));
  auto trailing_trunk = no_heads;
  trailing_trunk.push_back(0);
  CHECK(refused(trailing_trunk, levels, bad, "bytes after the CCM trunk"));
  // Heads for other levels: the last head would have the wrong shape, or be missing.
  CHECK(refused(good, {8, 5, 4}, bad, "digit head 2 is 19 -> 5"));
  CHECK(refused(good, {8, 5, 5, 5}, TVC_ETRUNCATED, "ends early"));
  CHECK(refused(good, {8, 5}, bad, "bytes after the last CCM digit head"));
  // Head inputs over the channel limit (F = 6 + 2 x 256 earlier one-hots).
  const std::vector<int> wide = {256, 256, 5};
  CHECK(refused(random_ccm_v2(rng, wide, 1, true), wide, bad, "digit head 2 would take 518 inputs, over the limit of 512"));
  // Every truncation is refused cleanly.
  for (std::size_t n = 0; n < good.size(); ++n) {
    const int code = error_of([&] { tvc::CheckerboardCoder::parse(good.data(), n, levels); });
    CHECK(code == TVC_ETRUNCATED || code == TVC_EINVALIDDATA);
  }
}

}  // namespace

int main() {
  test_crc32();
  test_cdf_helpers();
  test_rans_indexed_round_trip();
  test_rans_mixed_round_trip();
  test_rans_damage();
  test_bitstream();
  test_checkerboard_coder();
  test_ccm_v2_round_trip();
  test_ccm_v2_refusals();
  test_intnet_kernels();
  if (g_failures) {
    std::fprintf(stderr, "%d native check(s) failed\n", g_failures);
    return 1;
  }
  std::printf("native tests passed\n");
  return 0;
}
