"""Shared helpers of the tokenizer tests: a tiny config and a tiny on-disk data cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tvc_ffmpeg.models.config import TokenizerConfig

TINY = TokenizerConfig(
    fsq_levels=(5, 4, 3),
    encoder_widths=(8, 16, 16, 24),
    encoder_blocks=(1, 1, 1, 1),
    decoder_widths=(8, 16, 16, 24),
    decoder_blocks=(1, 1, 1, 1),
)

# The codec and runtime tests' tokenizer: the shipped FSQ levels, few channels.
SMALL = TokenizerConfig(fsq_levels=(8, 5, 5, 5), encoder_widths=(16, 16, 24, 32),
                        encoder_blocks=(0, 0, 1, 1), decoder_widths=(16, 16, 24, 32),
                        decoder_blocks=(0, 1, 1, 1))


def small_codec_model(directory: Path):
    """A CodecModel (torch backend) of an untrained SMALL tokenizer, seeded, saved in ``directory``:
    the codec tests' model when what matters is the pipeline, not the pictures."""
    import torch

    from tvc_ffmpeg.codec import CodecModel
    from tvc_ffmpeg.models import CausalVideoTokenizer, export_weights

    torch.manual_seed(0)
    path = Path(directory) / "tvc-test.pt"
    export_weights(CausalVideoTokenizer(SMALL).eval(), "tvc-test", path)
    return CodecModel.from_file(path, backend="torch")


def moving_pattern(frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, moving RGB test pattern (T, H, W, 3) uint8: sinusoids drifting over time."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    phases = rng.uniform(0, 2 * np.pi, size=3)
    for t in range(frames):
        for c in range(3):
            v = 0.5 + 0.35 * np.sin(0.21 * (xx + 1.5 * t) + phases[c]) * np.cos(0.17 * (yy - 0.7 * t))
            out[t, :, :, c] = np.clip(v * 255.0, 0, 255)
    return out


def write_lossless_video(path: Path, rgb: np.ndarray) -> None:
    """Write yuv420p FFV1 (lossless in YUV) so reading back gives exact planes."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height = rgb.shape[2], rgb.shape[1]
        stream.pix_fmt = "yuv420p"
        for frame in rgb:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def make_tiny_cache(root: Path) -> None:
    """A cache laid out as `tvc data` writes it, with small synthetic clips and stills."""
    from tvc_ffmpeg.data.cache import CacheLayout

    cache = CacheLayout(root)
    cache.videos.mkdir(parents=True)
    cache.frames.mkdir(parents=True)
    sizes = {"bikes": (100, 48, 64), "carphone_pristine": (100, 32, 48), "bigbuckbunny": (24, 64, 80)}
    for i, (name, (t, h, w)) in enumerate(sizes.items()):
        rgb = moving_pattern(t, h, w, seed=i)
        np.save(cache.frames_of(name), rgb)
        if name != "bigbuckbunny":
            write_lossless_video(cache.video(name), rgb[:64])
    stills = {f"still{i}.png": moving_pattern(1, 96, 128, seed=10 + i)[0] for i in range(2)}
    np.savez(cache.stills_npz, **stills)
