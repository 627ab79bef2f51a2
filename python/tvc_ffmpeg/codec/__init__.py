"""The codec: video frames to GoP packets and back.

Version 0.1 codes each GoP's tokenizer tokens losslessly with fixed uniform
per-dimension tables (substream kind 1); the checkerboard context model,
masking with transformer prediction, the continuous stream and rate control
come next (issue "Codec v1") and will replace the token coding without
changing this API.
"""

from .model import CodecModel
from .session import Decoder, Encoder
from .tokens import TokenCoder

__all__ = ["CodecModel", "Decoder", "Encoder", "TokenCoder"]
