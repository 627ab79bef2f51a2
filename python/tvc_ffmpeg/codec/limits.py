"""Size limits a session honours before it allocates anything for a picture or a GoP.

A stream's header and packets are hostile input: a 1.4 KB file can claim a
16384x16384 picture, and a 151-byte packet a GoP of 1024 such frames. Decoding
memory grows with the coded pixels of a GoP (the pixel decoder holds every
frame of it at once: about 140 bytes per coded pixel and frame with tvc-s-v3,
docs/codec.md), so the decoder checks two numbers against the header and every
packet, and refuses with LimitExceededError (TVC_ELIMIT) before any array is made:

* ``max_pixels``: width x height of the source picture (header) and of each
  packet's coded picture. The default admits 4K (4096x2304).
* ``max_gop_pixels``: coded width x height x frames of one GoP, frames counted
  after padding to the tokenizer's 1 + 8k. The default (72 Mi, about 10 GB at
  decode) admits 1080p at quality 2 and 4K at quality 0 with the default GoP of 33.

The encoder refuses, up front, what a decoder with the same limits would refuse.
Raise either limit with the field of the same name of EncoderSettings and DecoderSettings
(settings.py, where the defaults live).
"""

from __future__ import annotations

from ..errors import LimitExceededError


def check_picture(width: int, height: int, max_pixels: int, what: str) -> None:
    """LimitExceededError when a ``width`` x ``height`` picture is over ``max_pixels``."""
    if width * height > max_pixels:
        raise LimitExceededError(
            f"{what} {width}x{height} has {width * height} pixels, over the limit of {max_pixels} "
            f"(raise max_pixels to allow it)"
        )


def check_gop(width: int, height: int, padded_frames: int, max_gop_pixels: int, what: str) -> None:
    """LimitExceededError when a GoP of ``padded_frames`` coded ``width`` x ``height``
    pictures is over ``max_gop_pixels``."""
    total = width * height * padded_frames
    if total > max_gop_pixels:
        raise LimitExceededError(
            f"{what}: {padded_frames} frames of {width}x{height} are {total} coded pixels, over the "
            f"limit of {max_gop_pixels} a GoP (about 140 bytes each at decode; raise max_gop_pixels "
            f"to allow it)"
        )
