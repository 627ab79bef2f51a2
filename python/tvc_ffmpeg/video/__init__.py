"""Video in and out: 8-bit 4:2:0 frames, their metadata, colour conversion,
reading through PyAV (or Y4M from a pipe) and writing through PyAV or as Y4M."""

from .color import rgb_to_yuv420, yuv420_to_rgb
from .frames import Frame, VideoInfo
from .reader import VideoReader, open_input
from .writer import VideoWriter, open_output

__all__ = [
    "Frame",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "open_input",
    "open_output",
    "rgb_to_yuv420",
    "yuv420_to_rgb",
]
