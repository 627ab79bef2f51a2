// Integer-only convolutional network: the arithmetic of the context models.
//
// Everything that shapes a CDF must be bit-identical on every platform, so
// these nets use int8 weights, int32 accumulators and a fixed-point rescale:
//
//   acc      = bias[o] + sum_{i,dy,dx} w[o,i,dy,dx] * in[i, y+dy-k/2, x+dx-k/2]
//              (zero outside the grid; int32, cannot overflow for the limits below)
//   out[o]   = (acc * mult[o] + 2^(shift[o]-1)) >> shift[o]   (int64, arithmetic shift)
//   hidden:  clamp(out, 0, 127)        (ReLU and int8 range in one step)
//   output:  clamp(out, -2^20, 2^20)   (logits, 1 LSB = 1/16 nat)
//
// The float PyTorch mirror (python/tvc_ffmpeg/models/ccm.py) trains with fake
// quantisation and exports exactly these integers; its numpy reference
// implementation is tested against this code bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tvc {

struct IntConv {
  int cin = 0;
  int cout = 0;
  int kernel = 1;       // odd: 1 or 3
  bool relu = true;     // hidden layer (clamp 0..127) or output layer (logits)
  std::vector<int8_t> weight;   // cout x cin x kernel x kernel
  std::vector<int32_t> bias;    // cout
  std::vector<int32_t> mult;    // cout, 0 .. 2^31-1
  std::vector<uint8_t> shift;   // cout, 1 .. 62
};

// Limits that keep the int32 accumulator exact: |w| <= 127, |in| <= 127 and
// cin * kernel^2 <= 4096 give |sum| < 2^26; |bias| is capped at 2^30.
constexpr int kMaxChannels = 512;
constexpr int kMaxFanIn = 4096;
constexpr int32_t kLogitClamp = 1 << 20;

class ByteReader;
class ByteWriter;

// Reads the parameters of one layer whose geometry (cin, cout, kernel, relu)
// is already set in L: weights, bias, multipliers, shifts, each range-checked
// (TVC_EINVALIDDATA naming `what`). Shared by the "TVCN" blob and the CCM
// container's digit heads, so both refuse exactly the same values.
void read_layer_params(ByteReader& r, IntConv& L, const std::string& what);
void write_layer_params(ByteWriter& w, const IntConv& L);

// Rescale of one accumulator: (acc * mult + 2^(shift-1)) >> shift in int64,
// then clamp(0, 127) for a hidden layer or clamp(+-2^20) for logits.
inline int32_t requantize(int32_t acc, int32_t mult, int shift, bool relu) {
  const int64_t v = (int64_t{acc} * mult + (int64_t{1} << (shift - 1))) >> shift;  // arithmetic: floor
  const int64_t lo = relu ? 0 : -kLogitClamp, hi = relu ? 127 : kLogitClamp;
  return static_cast<int32_t>(v < lo ? lo : (v > hi ? hi : v));
}

// A 1x1 layer at one position: in holds L.cin values, out gets L.cout.
void run_1x1(const IntConv& L, const int32_t* in, int32_t* out);

class IntNet {
 public:
  // What the last layer must be: a logit layer (a whole context model), a
  // hidden ReLU layer (the trunk of a CCM with digit heads, docs/ccm.md), or
  // either (running a net on its own, as _native.int_net_forward does).
  enum class LastLayer { kLogits, kHidden, kEither };

  // Parses the "TVCN" blob (docs/ccm.md, "Integer network blob"); throws
  // tvc::Error(TVC_EINVALIDDATA) on any malformed or out-of-limit field.
  static IntNet parse(const uint8_t* data, std::size_t size, LastLayer last = LastLayer::kLogits);
  std::vector<uint8_t> serialize() const;

  int in_channels() const { return layers_.front().cin; }
  int out_channels() const { return layers_.back().cout; }
  const std::vector<IntConv>& layers() const { return layers_; }

  // in: in_channels x h x w (values must be within [-127, 127]);
  // out: out_channels x h x w. With `need` (h x w flags), only the outputs at
  // flagged positions are computed (and only the inputs those reach through
  // the kernels); the others are written as 0. Scratch buffers are reused
  // across calls, so one IntNet must not run on two threads at once.
  void run(const int32_t* in, int h, int w, int32_t* out, const uint8_t* need = nullptr) const;

  // A layer's weights laid out for the dot-product kernel (intnet.cpp):
  // activations are kept as int16 in a zero-bordered (h+2) x (w+2) grid with
  // `cpad_in` channels per position (channels rounded up to 8), so a 3x3
  // layer's input for one output is three contiguous runs of 3 * cpad_in
  // values (one per kernel row). `weight` is cout_pad x (segments * seg_len),
  // zero in the padding channels and rows; the sum is the same integers as
  // IntConv's, added in another order (exact: every partial sum < 2^26).
  struct Packed {
    int cpad_in = 0, cpad_out = 0, cout_pad = 0, segments = 1, seg_len = 0;
    std::vector<int16_t> weight;
  };

 private:
  void pack();

  std::vector<IntConv> layers_;
  std::vector<Packed> packed_;
  mutable std::vector<int16_t> act_a_, act_b_;
  mutable std::vector<uint8_t> mask_;
  mutable std::vector<std::vector<int>> positions_;  // per layer: interior positions to compute
};

}  // namespace tvc
