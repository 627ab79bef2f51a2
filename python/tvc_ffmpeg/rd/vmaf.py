"""Optional VMAF (v0.6.1 model) of the luma planes, through the ``vmaf-torch`` package.

Kept out of :mod:`tvc_ffmpeg.metrics` because it is slow (about a minute for 64 frames of
640x272 on one busy CPU core) and needs extra packages: ``pip install vmaf-torch pandas
psutil`` (vmaf-torch imports pandas and yuvio, and yuvio imports psutil). The model's
weights are built into vmaf-torch, so it runs offline. Scores are clipped to [0, 100]
(``clip_score=True``, as libvmaf does) and averaged over frames. It has not been compared
against libvmaf on this machine (the Debian ffmpeg has no libvmaf filter).
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import InvalidArgumentError
from ..metrics import Yuv420Clip


@functools.lru_cache(maxsize=1)
def _model():
    try:
        from vmaf_torch import VMAF
    except ImportError as exc:
        raise ImportError("VMAF needs vmaf-torch: pip install vmaf-torch pandas psutil") from exc
    return VMAF(temporal_pooling=True, clip_score=True).eval()


def vmaf_y(ref: Yuv420Clip, dist: Yuv420Clip) -> float:
    """Mean VMAF over the clip's frames (luma only, 8-bit scale)."""
    import torch

    if ref.y.shape != dist.y.shape:
        raise InvalidArgumentError(f"clip shapes differ: {ref.y.shape} vs {dist.y.shape}")
    a = torch.from_numpy(ref.y.astype(np.float32)).unsqueeze(1)
    b = torch.from_numpy(dist.y.astype(np.float32)).unsqueeze(1)
    with torch.no_grad():
        return float(_model()(a, b))
