// Native unit tests for the C++ core, run by tests/test_native.py (also in the
// ASan + UBSan build). Each CHECK that fails prints its line and the test
// program exits non-zero.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../core/bitstream.hpp"
#include "../core/ccm.hpp"
#include "../core/intnet.hpp"
#include "../core/mask.hpp"
#include "../core/cdf.hpp"
#include "../core/crc32.hpp"
#include "../core/rans.hpp"
#include "../core/status.hpp"

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

// A small random integer net, round-tripped through its blob format.
tvc::IntNet random_net(std::mt19937& rng, int cin, int hidden, int cout) {
  std::vector<uint8_t> blob = {'T', 'V', 'C', 'N', 1, 0, 2, 0};
  auto layer = [&](int ci, int co, int k, bool relu) {
    blob.push_back(static_cast<uint8_t>(ci));
    blob.push_back(0);
    blob.push_back(static_cast<uint8_t>(co));
    blob.push_back(0);
    blob.push_back(static_cast<uint8_t>(k));
    blob.push_back(relu ? 1 : 0);
    for (int i = 0; i < co * ci * k * k; ++i) blob.push_back(static_cast<uint8_t>(static_cast<int8_t>(rng() % 255 - 127)));
    for (int i = 0; i < co; ++i) for (int b = 0; b < 4; ++b) blob.push_back(static_cast<uint8_t>((b == 0) ? rng() % 256 : 0));
    for (int i = 0; i < co; ++i) { const uint32_t m = 1u << 20; for (int b = 0; b < 4; ++b) blob.push_back(static_cast<uint8_t>(m >> (8 * b))); }
    for (int i = 0; i < co; ++i) blob.push_back(relu ? 30 : 28);
  };
  layer(cin, hidden, 3, true);
  layer(hidden, cout, 1, false);
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

}  // namespace

int main() {
  test_crc32();
  test_cdf_helpers();
  test_rans_indexed_round_trip();
  test_rans_mixed_round_trip();
  test_rans_damage();
  test_bitstream();
  test_checkerboard_coder();
  if (g_failures) {
    std::fprintf(stderr, "%d native check(s) failed\n", g_failures);
    return 1;
  }
  std::printf("native tests passed\n");
  return 0;
}
