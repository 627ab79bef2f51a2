"""TVC itself as an RD curve: every quality level, the whole .tvc file counted.

bpp counts every byte of the .tvc file (signature, sequence header, record
framing, GoP packets), so TVC is charged a little more than the classic
elementary streams are.
"""

from __future__ import annotations

import io
import time
from dataclasses import replace
from typing import Optional, Sequence

import numpy as np

from ..bitstream import TvcWriter
from ..codec import CodecModel, Encoder
from ..errors import InvalidDataError
from ..files import TvcInput, encode_into
from ..settings import EncoderSettings
from ..metrics import Yuv420Clip
from ..video import Frame, VideoInfo
from .interface import CodedClip, SourceClip


class TvcRdCodec:
    """RdCodec over the model ``settings`` name (the shipped one by default), one point per
    quality level of its ladder; every other field of the settings applies to each point."""

    def __init__(self, settings: Optional[EncoderSettings] = None, name: str = "TVC") -> None:
        self.name = name
        self._settings = settings if settings is not None else EncoderSettings()
        self._model: Optional[CodecModel] = None

    @property
    def levels(self) -> Sequence[int]:
        return list(range(len(self._get_model().quality_scales)))

    def _get_model(self) -> CodecModel:
        if self._model is None:
            self._model = self._settings.load_model()
        return self._model

    def encode_decode(self, clip: SourceClip, level: int) -> CodedClip:
        model = self._get_model()
        y, u, v = clip.frames.y, clip.frames.u, clip.frames.v
        t, h, w = y.shape
        info = VideoInfo(width=w, height=h, frame_rate=clip.frame_rate, time_base=1 / clip.frame_rate)
        buf = io.BytesIO()
        t0 = time.perf_counter()
        settings = replace(self._settings, quality=level)
        enc = Encoder(info, settings, model=model)
        with TvcWriter(buf, enc.header) as writer:
            encode_into(writer, enc, (Frame(y[i], u[i], v[i], pts=i) for i in range(t)))
        data = buf.getvalue()
        t1 = time.perf_counter()
        with TvcInput(io.BytesIO(data), model=model) as src:
            frames = list(src)
        if src.damaged:
            raise InvalidDataError(f"the stream just written does not decode: {src.damage[0].describe()}")
        t2 = time.perf_counter()
        decoded = Yuv420Clip(np.stack([f.y for f in frames]), np.stack([f.u for f in frames]),
                             np.stack([f.v for f in frames]))
        return CodedClip(num_bytes=len(data), decoded=decoded, encode_seconds=t1 - t0,
                         decode_seconds=t2 - t1, keyframes=-(-t // settings.gop_length),  # one keyframe per GoP
                         settings=f"quality={level} mask={settings.mask_pattern} gop={settings.gop_length} "
                                  f"model={model.model_id}")
