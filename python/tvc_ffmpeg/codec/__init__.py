"""The codec: video frames to GoP packets and back.

``Encoder``/``Decoder`` (session.py) cut video into GoPs of 1 + 8k frames, code
each at a quality level of the model's ladder (the size of the coded picture),
optionally drop tokens by a mask pattern, and code the kept tokens losslessly:
with the model's integer checkerboard context model when it carries one
(``CcmTokenCoder``), else with uniform per-digit tables (``TokenCoder``;
tokens.py). The decoder fills dropped tokens (predict.py) and refuses, before
allocating, pictures and GoPs over its size limits (limits.py). Target-bitrate
mode picks each GoP's level (ratecontrol.py). ``CodecModel`` (model.py) is what
both sides share: the nets, the weights hash written into every header, and the
quality ladder. The continuous stream is not implemented yet.
"""

from .model import CodecModel
from .session import Decoder, Encoder
from .tokens import CcmTokenCoder, TokenCoder

__all__ = ["CcmTokenCoder", "CodecModel", "Decoder", "Encoder", "TokenCoder"]
