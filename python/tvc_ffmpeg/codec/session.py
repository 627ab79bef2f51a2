"""Encoder and Decoder sessions (PyAV style).

``Encoder.encode(frame)`` buffers frames and returns the packets of every GoP
completed; ``encode(None)`` flushes the last, possibly short, GoP.
``Decoder.decode(packet)`` returns that GoP's frames. Both are context
managers. Each GoP is coded on its own: its first frame starts a new causal
tokenizer window, so a damaged packet costs exactly one GoP.
"""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..bitstream import SUBSTREAM_CONTINUOUS, SUBSTREAM_DISCRETE, GopPacket, SequenceHeader, require_model
from ..errors import InvalidArgumentError, InvalidDataError, LimitExceededError
from ..models.gop import latent_frames, valid_length
from ..models.registry import DEFAULT_QUALITY_SCALES
from ..settings import AUTO_MASK, DecoderSettings, EncoderSettings
from ..video.color import resolve_matrix, rgb_to_yuv420, yuv420_to_rgb
from ..video.frames import Frame, VideoInfo
from ..video.resample import resize_rgb, scaled_size
from .._native import NUM_MASK_PATTERNS, mask_keep
from ..models.continuous import quantize, step_of_code
from .continuous import context_of, dequantized
from .colour import MAX_CORRECTION_BITS, apply_correction, correction_of, measure_correction, with_correction
from .limits import check_gop, check_picture
from .model import CodecModel
from .predict import fill_dropped
from .ratecontrol import RateController, code_within_budget

log = logging.getLogger(__name__)

# Every choice a session makes comes from its settings (settings.py: EncoderSettings,
# DecoderSettings, their defaults and checks). Quality levels (higher = better) are the
# model's: CodecModel.quality_scales, from its card in models/registry.py.
PREDICTOR_STEPS = 2  # parallel prediction steps for dropped tokens

# mask_pattern="auto" (mask_at_equal_rate): per GoP the encoder prices each pattern by
# the coder's real output and decodes the candidates itself, and keeps a pattern only if
# its loss (PSNR of the coded picture, RGB, against the GoP with every token) is smaller
# than what the quality ladder loses for the same saving: this many dB per halving of the
# GoP's bits. tvc-s-v4's token-only levels lose 1.9-2.0 dB PSNR-Y per halving on carphone
# (static camera) and 0.5-1.0 on bikes (panning) (README results table). Masks only work
# where the previous latent frame's copy is right, on static content, whose ladder is the
# steep one; 1.5 stays under carphone's slope so that content with a flatter ladder keeps
# its tokens unless it loses little. Per GoP, carphone's pattern 3 passes at q0-q3 for any
# value above 1.26; bikes' patterns at q0-q2 would need 5.5 or more (docs/codec.md).
AUTO_MASK_DB_PER_HALVING = 1.5
# Bytes a GoP packet spends besides its substreams (framing, header fields, CRC, colour
# correction: docs/bitstream.md): part of every candidate's rate, so that a mask's saving
# is the packet's, not only the token substream's.
AUTO_MASK_PACKET_BYTES = 24


class _MaskChoice(NamedTuple):
    """A GoP's mask pattern and the payloads made for it while choosing it: the discrete
    substream, and the continuous one when already made (None: still to make)."""
    pattern: int
    discrete: bytes
    continuous: Optional[bytes] = None


def mask_at_equal_rate(bits: Sequence[int], loss_of: Callable[[int], float], db_per_halving: float) -> int:
    """The mask pattern best at equal rate. ``bits[p]``: the GoP's rate with pattern p
    (``bits[0]``: every token sent), all > 0; ``loss_of(p)``: the dB of PSNR pattern p
    loses against pattern 0; ``db_per_halving``: the exchange rate (the encoder passes
    AUTO_MASK_DB_PER_HALVING). Pattern p's margin is db_per_halving x log2(bits[0] /
    bits[p]) (what the ladder would lose for that saving) less its loss (a negative loss
    counts as 0: a mask does not add detail); the largest positive margin wins, else 0.
    Candidates are tried in order of their possible margin, and one whose margin could not
    beat the best so far even without loss is never decoded (``loss_of`` not called)."""
    if not bits or min(bits) <= 0:
        raise InvalidArgumentError(f"mask rates must be positive bit counts, got {list(bits)}")
    allowance = {p: db_per_halving * math.log2(bits[0] / bits[p]) for p in range(1, len(bits))}
    best, best_margin = 0, 0.0
    for p in sorted(allowance, key=lambda p: (-allowance[p], p)):
        if allowance[p] <= best_margin:
            break  # neither this pattern nor any after it can win
        margin = allowance[p] - max(loss_of(p), 0.0)
        if margin > best_margin:
            best, best_margin = p, margin
    return best


def _ceil_to(x: int, m: int) -> int:
    return -(-x // m) * m


def coded_size(info: VideoInfo, quality: int, model: Optional[CodecModel] = None) -> Tuple[int, int]:
    """(width, height) of the picture the tokenizer codes at ``quality`` with ``model``'s
    quality ladder (without a model: the ladder of weights given as a file)."""
    scales = model.quality_scales if model is not None else DEFAULT_QUALITY_SCALES
    return scaled_size(info.width, info.height, scales[quality])


class _Geometry:
    """One coded picture size: its padding to the tokenizer's multiple and the latent grid."""

    def __init__(self, width: int, height: int, model: CodecModel) -> None:
        sf = model.spatial_factor
        self.height, self.width = height, width
        self.padded_h, self.padded_w = _ceil_to(height, sf), _ceil_to(width, sf)
        self.latent_h, self.latent_w = self.padded_h // sf, self.padded_w // sf
        self.temporal_factor = model.temporal_factor

    def latent_frames(self, frames: int) -> int:
        return latent_frames(frames, self.temporal_factor)


def info_to_header(info: VideoInfo, model: CodecModel, gop_length: int) -> SequenceHeader:
    fr = Fraction(info.frame_rate).limit_denominator(2**31)
    tb = Fraction(info.time_base).limit_denominator(2**31)
    return SequenceHeader(
        model_id=model.model_id, weights_sha256=model.weights_sha256, width=info.width,
        height=info.height, gop_length=gop_length, frame_rate=(fr.numerator, fr.denominator),
        time_base=(tb.numerator, tb.denominator), sample_aspect_ratio=info.sample_aspect_ratio,
        color_primaries=info.color_primaries, color_trc=info.color_trc,
        colorspace=info.colorspace, color_range=info.color_range,
        chroma_format=info.chroma_format, bit_depth=info.bit_depth,
    )


def header_to_info(h: SequenceHeader) -> VideoInfo:
    return VideoInfo(
        width=h.width, height=h.height,
        frame_rate=Fraction(*h.frame_rate) if h.frame_rate[0] else Fraction(25),
        time_base=Fraction(*h.time_base), sample_aspect_ratio=h.sample_aspect_ratio,
        color_primaries=h.color_primaries, color_trc=h.color_trc, colorspace=h.colorspace,
        color_range=h.color_range, chroma_format=h.chroma_format, bit_depth=h.bit_depth,
    )


class Encoder:
    """Frames in, GoP packets out, as ``settings`` (EncoderSettings) say: ``quality``
    (higher = better, the model's ladder) picks the coded picture size; ``mask_pattern``
    (0..3, or "auto" to choose per GoP; docs/codec.md) drops tokens for the decoder to
    predict; with ``bitrate`` (bits per second of the stream's GoP packets) each GoP's
    quality level is chosen to stay within it (codec/ratecontrol.py). ``max_pixels`` and
    ``max_gop_pixels`` (codec/limits.py) refuse, up front, pictures and levels a decoder
    with the same limits would refuse.

    ``model`` is an already-loaded CodecModel to use instead of loading the one the
    settings name (their model, weights_path, backend and threads then do not apply).

    ``first_gop_index`` numbers the first GoP (default 0): an encoder given the frames
    from frame ``k x gop_length`` on, with ``first_gop_index=k``, makes the packets the
    serial encoder makes for them (GoPs are independent). tvc_ffmpeg.distributed codes
    GoP ranges in parallel this way."""

    def __init__(self, info: VideoInfo, settings: Optional[EncoderSettings] = None, *,
                 model: Optional[CodecModel] = None, first_gop_index: int = 0) -> None:
        if isinstance(first_gop_index, bool) or not isinstance(first_gop_index, int) or first_gop_index < 0:
            raise InvalidArgumentError(f"first_gop_index must be an integer >= 0, got {first_gop_index!r}")
        s = settings if settings is not None else EncoderSettings()
        self.settings = s
        check_picture(info.width, info.height, s.max_pixels, "picture")
        self.model = model if model is not None else s.load_model()
        levels = range(len(self.model.quality_scales))
        if s.quality not in levels:
            raise InvalidArgumentError(
                f"quality must be one of {list(levels)} for model {self.model.model_id} "
                f"(higher = better), got {s.quality}"
            )
        self.quality = s.quality
        self.mask_pattern = s.mask_pattern
        tf = self.model.temporal_factor
        if (s.gop_length - 1) % tf:
            raise InvalidArgumentError(
                f"GoP length must be 1 + {tf}k frames (e.g. {1 + tf}, {1 + 2 * tf}, {1 + 4 * tf}) "
                f"and at most 1024, got {s.gop_length}"
            )
        self.info = info
        self.gop_length = s.gop_length
        self.header = info_to_header(info, self.model, s.gop_length)
        self._matrix = resolve_matrix(info.colorspace, info.height)
        self._coder = self.model.token_coder()
        self._continuous_coder = self.model.continuous_coder()
        self._pending: List[Frame] = []
        self._gop_index = first_gop_index
        self._flushed = False
        self._rate: Optional[RateController] = None
        self._own_decoder: Optional["Decoder"] = None  # made on first use, for the colour correction
        # The levels whose coded GoP a decoder with these limits accepts.
        fitting = []
        for q in levels:
            width, height = coded_size(info, q, self.model)
            try:
                check_picture(width, height, s.max_pixels, f"quality {q} codes a picture of")
                check_gop(width, height, valid_length(s.gop_length, tf), s.max_gop_pixels, f"quality {q}")
            except LimitExceededError:
                if s.bitrate is None and q == s.quality:
                    raise
                continue
            fitting.append(q)
        if s.bitrate is not None:
            if not fitting:
                width, height = coded_size(info, 0, self.model)
                check_gop(width, height, valid_length(s.gop_length, tf), s.max_gop_pixels, "quality 0")
            positions = {}
            for q in fitting:
                g = _Geometry(*coded_size(info, q, self.model), self.model)
                positions[q] = g.latent_h * g.latent_w
            steps = {q: self.model.step_code(q) for q in fitting}
            self._rate = RateController(float(s.bitrate) / float(info.frame_rate), positions, steps)

    def encode(self, frame: Optional[Frame]) -> List[GopPacket]:
        if self._flushed:
            raise InvalidArgumentError("encoder already flushed")
        if frame is None:
            self._flushed = True
            return [self._encode_gop()] if self._pending else []
        if frame.width != self.info.width or frame.height != self.info.height:
            raise InvalidArgumentError(
                f"frame is {frame.width}x{frame.height}, the stream is {self.info.width}x{self.info.height}"
            )
        self._pending.append(frame)
        if len(self._pending) == self.gop_length:
            return [self._encode_gop()]
        return []

    def tokens_of(self, frames: List[Frame], size: Optional[Tuple[int, int]] = None) -> np.ndarray:
        """The GoP's token grid (latent frames, H/16, W/16) for the picture coded at
        ``size`` (width, height; default: the source's): what the packet carries."""
        width, height = size if size is not None else (self.info.width, self.info.height)
        return self._tokenize(resize_rgb(self._source_rgb(frames), height, width))

    def _source_rgb(self, frames: List[Frame]) -> np.ndarray:
        """(T, H, W, 3) float RGB in [0, 1] of the frames at the source size."""
        return np.stack([yuv420_to_rgb(f.y, f.u, f.v, self._matrix, self.info.color_range) for f in frames])

    def _tokenize(self, rgb: np.ndarray) -> np.ndarray:
        return self.model.runtime.encode(self._padded_input(rgb))[0]

    def _padded_input(self, rgb: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) RGB in [0, 1] -> the nets' input (1, 3, 1 + 8k, H', W') in [-1, 1],
        padded to the tokenizer's multiples by repeating the edge."""
        t, height, width, _ = rgb.shape
        g = _Geometry(width, height, self.model)
        pad_t = valid_length(t, g.temporal_factor) - t  # repeat the last frame (edge)
        rgb = np.pad(rgb, ((0, pad_t), (0, g.padded_h - height), (0, g.padded_w - width), (0, 0)),
                     mode="edge")
        # One contiguous copy scaled in place: the nets take it as it is, where arithmetic on
        # the transposed view made two more GoP-sized copies (runtime/base.check_video's too).
        x = np.ascontiguousarray(rgb.transpose(3, 0, 1, 2), dtype=np.float32)[None]
        x *= np.float32(2.0)
        x -= np.float32(1.0)
        return x

    def _continuous_payload(self, rgb: np.ndarray, tokens: np.ndarray, pattern: int, code: int) -> bytes:
        """The kind-2 payload of a GoP: its latent from the source and the token-only
        reconstruction of exactly the grid the decoder will complete, quantised at the
        step of ``code``, coded with context planes from that grid (codec/continuous.py)."""
        grid = fill_dropped(np.where(mask_keep(pattern, *tokens.shape), tokens, -1),
                            self.model.predictor, PREDICTOR_STEPS)
        x = self._padded_input(rgb)
        recon = self.model.runtime.decode(grid[None])
        latent = self.model.continuous_runtime.encode(x, recon)
        values = quantize(torch.from_numpy(latent), step_of_code(code), "round")[0].numpy()
        parts = self.model.continuous
        frames = parts.latent_frames(rgb.shape[0], self.model.temporal_factor)
        if values.shape[1] != frames:
            raise InvalidArgumentError(f"continuous encoder gave {values.shape[1]} latent frames, "
                                       f"its config says {frames}")
        ctx = context_of(grid, self.model.fsq_levels, frames, parts.config.temporal_factor, code)
        return self._continuous_coder.encode(values, ctx)

    def _choose_mask(self, tokens: np.ndarray, rgb: np.ndarray, code: int) -> _MaskChoice:
        """mask_pattern="auto": the pattern best at equal rate (mask_at_equal_rate) for this
        GoP, with the payloads already made for it. ``code``: the level's continuous step
        code; at such levels the continuous payload of the whole grid is part of every
        candidate's rate (token-only loss: a mask's effect on it is not measured)."""
        discrete = [self._coder.encode(tokens, p) for p in range(NUM_MASK_PATTERNS)]
        continuous = self._continuous_payload(rgb, tokens, 0, code) if code else b""
        other_bits = 8 * (AUTO_MASK_PACKET_BYTES + len(continuous))
        full = _psnr(rgb, decode_pixels(self.model, tokens, rgb.shape[:3]))

        def loss(pattern: int) -> float:
            keep = mask_keep(pattern, *tokens.shape)
            filled = fill_dropped(np.where(keep, tokens, -1), self.model.predictor, PREDICTOR_STEPS)
            return full - _psnr(rgb, decode_pixels(self.model, filled, rgb.shape[:3]))

        pattern = mask_at_equal_rate([other_bits + 8 * len(d) for d in discrete], loss, AUTO_MASK_DB_PER_HALVING)
        return _MaskChoice(pattern, discrete[pattern], continuous if code and pattern == 0 else None)

    def _encode_gop(self) -> GopPacket:
        frames, self._pending = self._pending, []
        source = self._source_rgb(frames)  # converted once, even when the GoP is re-coded
        if self._rate is None:
            packet = self._code_gop(frames, source, self.quality)
        else:
            extra = MAX_CORRECTION_BITS if self.settings.colour_correction else 0
            packet = code_within_budget(self._rate, len(frames), lambda q: self._code_gop(frames, source, q), extra)
        del source  # a float copy of the whole GoP: not held through the correction's decode
        if self.settings.colour_correction:  # once, on the packet kept (codec/colour.py)
            size = len(packet.to_bytes())
            packet = self._correct_colour(packet, frames)
            if self._rate is not None:
                self._rate.charge(8 * (len(packet.to_bytes()) - size))
        self._gop_index += 1
        return packet

    def _correct_colour(self, packet: GopPacket, frames: List[Frame]) -> GopPacket:
        """``packet`` plus the offsets that bring what a Decoder makes of it to the source's
        plane means: the decode is a real Decoder's, so whatever it adds later is measured too."""
        if self._own_decoder is None:
            # The encoder's own limits: it already accepted every GoP it codes.
            limits = DecoderSettings(max_pixels=self.settings.max_pixels,
                                     max_gop_pixels=self.settings.max_gop_pixels)
            self._own_decoder = Decoder(self.header, limits, model=self.model)
        decoded = self._own_decoder.decode(packet)
        return with_correction(packet, measure_correction(frames, decoded, self.info.color_range))

    def _code_gop(self, frames: List[Frame], source: np.ndarray, quality: int) -> GopPacket:
        width, height = coded_size(self.info, quality, self.model)
        rgb = resize_rgb(source, height, width)
        tokens = self._tokenize(rgb)
        code = self.model.step_code(quality)
        if self.mask_pattern == AUTO_MASK:
            chosen = self._choose_mask(tokens, rgb, code)
        else:
            chosen = _MaskChoice(self.mask_pattern, self._coder.encode(tokens, self.mask_pattern))
        pattern = chosen.pattern
        substreams = [(SUBSTREAM_DISCRETE, chosen.discrete)]
        if code:
            continuous = chosen.continuous
            if continuous is None:
                continuous = self._continuous_payload(rgb, tokens, pattern, code)
            substreams.append((SUBSTREAM_CONTINUOUS, continuous))
        return GopPacket(
            gop_index=self._gop_index, frame_count=len(frames), first_pts=frames[0].pts,
            quality=quality, mask_pattern=pattern, continuous_step=code,
            coded_width=width, coded_height=height, substreams=tuple(substreams),
        )

    def close(self) -> None:
        self._pending = []

    def __enter__(self) -> "Encoder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Decoder:
    """GoP packets in, frames out, as ``settings`` (DecoderSettings) say. The header and
    every packet are checked against ``max_pixels`` and ``max_gop_pixels``
    (codec/limits.py) before anything is allocated for them: LimitExceededError. A
    stream of a model this install does not have, or of other weights, is a
    ModelMismatchError. ``model``: an already-loaded CodecModel, as for Encoder.

    ``decode(packet)`` returns the GoP's frames; ``decode(None)`` flushes (GoPs are
    decoded whole, so nothing is held back and it returns []). Damage never travels as
    a packet: readers report it as a ``Damaged`` item (bitstream.py)."""

    def __init__(self, header: SequenceHeader, settings: Optional[DecoderSettings] = None, *,
                 model: Optional[CodecModel] = None) -> None:
        s = settings if settings is not None else DecoderSettings()
        self.settings = s
        check_picture(header.width, header.height, s.max_pixels, "stream's picture")
        self.model = model if model is not None else s.load_model(header.model_id)
        require_model(header, self.model.model_id, self.model.weights_sha256)
        self.max_pixels = s.max_pixels
        self.max_gop_pixels = s.max_gop_pixels
        self.header = header
        self.info = header_to_info(header)
        self._matrix = resolve_matrix(self.info.colorspace, self.info.height)
        self._coder = self.model.token_coder()
        self._continuous_coder = self.model.continuous_coder()

    def tokens_of(self, packet: GopPacket) -> np.ndarray:
        """The tokens the packet carries; -1 where its mask pattern dropped one."""
        payload = packet.substream(SUBSTREAM_DISCRETE)
        if payload is None:
            raise InvalidDataError(f"GoP {packet.gop_index} has no discrete substream")
        if not 0 <= packet.mask_pattern < NUM_MASK_PATTERNS:
            raise InvalidDataError(f"GoP {packet.gop_index} uses unknown mask pattern {packet.mask_pattern}")
        self.check_limits(packet)
        g = _Geometry(packet.coded_width, packet.coded_height, self.model)
        shape = (g.latent_frames(packet.frame_count), g.latent_h, g.latent_w)
        return self._coder.decode(payload, shape, packet.mask_pattern)

    def check_limits(self, packet: GopPacket) -> None:
        """LimitExceededError when the packet's coded GoP is over this decoder's limits;
        arithmetic on header fields only, so a hostile packet costs nothing."""
        what = f"GoP {packet.gop_index}"
        check_picture(packet.coded_width, packet.coded_height, self.max_pixels, f"{what} codes a picture of")
        frames = valid_length(packet.frame_count, self.model.temporal_factor)
        check_gop(packet.coded_width, packet.coded_height, frames, self.max_gop_pixels, what)

    def complete(self, grid: np.ndarray) -> np.ndarray:
        """Fill dropped tokens: the model's predictor if it has one, else copy-previous."""
        return fill_dropped(grid, self.model.predictor, PREDICTOR_STEPS)

    def continuous_values(self, packet: GopPacket, grid: np.ndarray) -> Optional[np.ndarray]:
        """The GoP's quantised continuous latent (int32 C x T' x h x w) decoded against its
        complete token ``grid``, or None when its continuous_step is 0. InvalidDataError when
        the step and the kind-2 substream disagree, when the model has no continuous stream,
        or when the payload is damaged."""
        what = f"GoP {packet.gop_index}"
        payload = packet.substream(SUBSTREAM_CONTINUOUS)
        code = packet.continuous_step
        if code == 0:
            if payload is not None:
                raise InvalidDataError(f"{what} has a continuous substream (kind 2) but continuous_step 0")
            return None
        if payload is None:
            raise InvalidDataError(f"{what} signals continuous_step {code} but has no continuous substream")
        parts = self.model.continuous
        if parts is None:
            raise InvalidDataError(f"{what} signals continuous_step {code}, but model {self.model.model_id} "
                                   f"has no continuous stream")
        frames = parts.latent_frames(packet.frame_count, self.model.temporal_factor)
        ctx = context_of(grid, self.model.fsq_levels, frames, parts.config.temporal_factor, code)
        return self._continuous_coder.decode(payload, ctx, what)

    def decode(self, packet: Optional[GopPacket]) -> List[Frame]:
        if packet is None:
            return []
        self.check_limits(packet)
        grid = self.complete(self.tokens_of(packet))
        values = self.continuous_values(packet, grid)
        shape = (packet.frame_count, packet.coded_height, packet.coded_width)
        if values is None:
            rgb = decode_pixels(self.model, grid, shape)
        else:
            rgb = decode_fused_pixels(self.model, grid, dequantized(values, packet.continuous_step), shape)
        rgb = resize_rgb(rgb, self.info.height, self.info.width)
        step = self.info.frame_duration
        frames = []
        for i in range(packet.frame_count):
            yy, uu, vv = rgb_to_yuv420(rgb[i], self._matrix, self.info.color_range)
            frames.append(Frame(yy, uu, vv, pts=packet.first_pts + i * step))
        correction = correction_of(packet)  # kind 128; absent in older streams
        return frames if correction is None else apply_correction(frames, correction, self.info.color_range)

    def close(self) -> None:
        pass

    def __enter__(self) -> "Decoder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decode_pixels(model: CodecModel, grid: np.ndarray, shape: Tuple[int, int, int]) -> np.ndarray:
    """A complete token grid -> (frames, height, width, 3) float RGB in [0, 1], cropped to ``shape``."""
    return _cropped_rgb(model.runtime.decode(grid[None]), shape)


def decode_fused_pixels(model: CodecModel, grid: np.ndarray, latent: np.ndarray,
                        shape: Tuple[int, int, int]) -> np.ndarray:
    """As decode_pixels, with the dequantised continuous latent (C, T', h, w) fused in."""
    return _cropped_rgb(model.continuous_runtime.decode(grid[None], latent[None]), shape)


def _cropped_rgb(y: np.ndarray, shape: Tuple[int, int, int]) -> np.ndarray:
    frames, height, width = shape
    rgb = np.clip(y[0, :, :frames, :height, :width].transpose(1, 2, 3, 0), -1, 1)
    rgb += np.float32(1.0)  # in place: one GoP-sized copy beside the net's output, not three
    rgb /= np.float32(2.0)
    return rgb


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)
