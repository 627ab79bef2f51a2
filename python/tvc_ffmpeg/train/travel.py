"""A run directory made small enough to come back from a lent GPU machine.

Files return from that machine only up to 16 MiB each and 64 MiB together, and the
tokenizer's checkpoint.pt alone is 74 MB (float32 weights plus Adam's two moments). For the
trip, the moments are stored in bfloat16 (float32's exponent range: the squared-gradient
moment keeps its scale; Optimizer.load_state_dict casts them back to the parameters' dtype,
so the ordinary resume reads the file unchanged) and best.pt in float16 (the precision the
shipped weights have); the weights in checkpoint.pt stay float32 so training continues
exactly. The result is one tar archive split into parts under the per-file limit; put it back
with ``cat run.tar.* | tar -xf - -C DEST``.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any, List

import torch

from .device import load_checkpoint

PART_BYTES = 15 * 2**20  # under the device's 16 MiB per file


def _cast_floats(obj: Any, dtype: torch.dtype, skip: tuple = ()) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(dtype) if obj.is_floating_point() and obj.dim() > 0 else obj
    if isinstance(obj, dict):
        return {k: v if k in skip else _cast_floats(v, dtype, skip) for k, v in obj.items()}
    return obj


def _slim(path: Path) -> bytes:
    state = load_checkpoint(path)
    if path.name == "best.pt" and "model" in state:
        state["model"] = _cast_floats(state["model"], torch.float16)
    elif "optimizer" in state:
        state["optimizer"]["state"] = _cast_floats(state["optimizer"]["state"], torch.bfloat16, skip=("step",))
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def pack_run_for_return(run_dir: Path, out_dir: Path, name: str = "run.tar") -> List[Path]:
    """Write run_dir (checkpoints slimmed) as ``out_dir/name.0``, ``.1``, ... parts."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(p for p in run_dir.iterdir() if p.is_file() and not p.name.endswith(".tmp")):
            data = _slim(path) if path.suffix == ".pt" else path.read_bytes()
            info = tarfile.TarInfo(f"{run_dir.name}/{path.name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    blob = buf.getvalue()
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    for i, start in enumerate(range(0, len(blob), PART_BYTES)):
        part = out_dir / f"{name}.{i}"
        part.write_bytes(blob[start : start + PART_BYTES])
        parts.append(part)
    return parts
