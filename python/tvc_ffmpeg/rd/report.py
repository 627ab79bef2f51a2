"""RD results as CSV (one row per clip, codec and setting) and as Markdown tables."""

from __future__ import annotations

import csv
import logging
import math
import os
from dataclasses import fields
from typing import Dict, Iterable, List, Sequence, Tuple

from ..errors import InvalidArgumentError, InvalidDataError
from .bdrate import bd_rate, quality_at_rate
from .envelope import CLASSIC_FAMILIES, ENVELOPE, bd_rate_vs_envelope, clip_envelopes, is_classic, overlap_range
from .points import RdPoint, floor_points

log = logging.getLogger(__name__)

METRICS = {"psnr_y": "PSNR-Y", "ms_ssim_y": "MS-SSIM-Y"}
# CSVs written without --vmaf may lack vmaf; those written before the chroma columns, the rest.
OPTIONAL_COLUMNS = {"vmaf", "psnr_u", "psnr_v", "cast_u", "cast_v", "colour_cast"}


def write_csv(points: Sequence[RdPoint], path: os.PathLike) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RdPoint.field_names())
        writer.writeheader()
        for p in points:
            row = p.as_row()
            for key, value in row.items():
                if isinstance(value, float):
                    row[key] = "" if math.isnan(value) else f"{value:.6g}"
            writer.writerow(row)


def read_csv(path: os.PathLike) -> List[RdPoint]:
    types = {f.name: f.type for f in fields(RdPoint)}
    out = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = set(types) - set(reader.fieldnames or []) - OPTIONAL_COLUMNS
        if missing:
            raise InvalidDataError(f"{path}: missing columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            try:
                values = {}
                for name, typ in types.items():
                    raw = row.get(name) or ""
                    if name in OPTIONAL_COLUMNS and raw == "":
                        values[name] = math.nan
                        continue
                    if typ in ("int", int):
                        values[name] = int(raw)
                    elif typ in ("float", float):
                        values[name] = math.nan if raw == "" else float(raw)
                    else:
                        values[name] = raw
            except ValueError as exc:
                raise InvalidDataError(f"{path}:{line}: {exc}") from exc
            out.append(RdPoint(**values))
    return out


def _group(points: Iterable[RdPoint]) -> Dict[str, Dict[str, List[RdPoint]]]:
    by_clip: Dict[str, Dict[str, List[RdPoint]]] = {}
    for p in points:
        by_clip.setdefault(p.clip, {}).setdefault(p.codec, []).append(p)
    return by_clip


def bd_rate_rows(points: Sequence[RdPoint], anchor: str) -> List[Tuple[str, str, Dict[str, float]]]:
    """(clip, codec, {metric: BD-rate %}) for every non-anchor codec; NaN where undefined."""
    rows = []
    for clip, codecs in _group(points).items():
        if anchor not in codecs:
            raise InvalidArgumentError(f"anchor {anchor!r} was not run on clip {clip!r} (have: {', '.join(codecs)})")
        ref = codecs[anchor]
        for codec, pts in codecs.items():
            if codec == anchor:
                continue
            values = {}
            for metric in METRICS:
                try:
                    values[metric] = bd_rate(
                        [p.bpp for p in ref], [getattr(p, metric) for p in ref],
                        [p.bpp for p in pts], [getattr(p, metric) for p in pts],
                    )  # fmt: skip
                except InvalidArgumentError as exc:
                    log.warning("BD-rate %s vs %s on %s (%s) undefined: %s", codec, anchor, clip, metric, exc)
                    values[metric] = math.nan
            rows.append((clip, codec, values))
    return rows


def _fmt(x: float, spec: str) -> str:
    return "n/a" if not math.isfinite(x) else format(x, spec)


def floor_table(points: Sequence[RdPoint]) -> str:
    lines = [
        "| clip | codec | setting | bpp | kbps | PSNR-Y dB | PSNR-YUV dB | MS-SSIM-Y | key frames |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in floor_points(points):
        lines.append(
            f"| {p.clip} | {p.codec} | {p.setting} | {p.bpp:.4f} | {p.kbps:.1f} | {p.psnr_y:.2f} | "
            f"{p.psnr_yuv:.2f} | {p.ms_ssim_y:.4f} | {p.keyframes} |"
        )
    return "\n".join(lines)


def ladder_table(points: Sequence[RdPoint]) -> str:
    with_vmaf = any(math.isfinite(p.vmaf) for p in points)
    lines = [
        "| clip | codec | setting | bytes | bpp | kbps | PSNR-Y dB | PSNR-YUV dB | MS-SSIM-Y |"
        + (" VMAF |" if with_vmaf else "") + " enc s | dec s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if with_vmaf else "") + "---:|---:|",
    ]
    for clip, codecs in _group(points).items():
        for codec, pts in codecs.items():
            for p in sorted(pts, key=lambda q: q.bpp):
                lines.append(
                    f"| {clip} | {codec} | {p.setting} | {p.bytes} | {p.bpp:.4f} | {p.kbps:.1f} | {p.psnr_y:.2f} | "
                    f"{p.psnr_yuv:.2f} | {p.ms_ssim_y:.4f} |" + (f" {_fmt(p.vmaf, '.2f')} |" if with_vmaf else "")
                    + f" {_fmt(p.encode_s, '.2f')} | {_fmt(p.decode_s, '.2f')} |"
                )
    return "\n".join(lines)


def bd_rate_table(points: Sequence[RdPoint], anchor: str) -> str:
    lines = [
        f"| clip | codec | BD-rate PSNR-Y vs {anchor} | BD-rate MS-SSIM-Y vs {anchor} |",
        "|---|---|---:|---:|",
    ]
    for clip, codec, values in bd_rate_rows(points, anchor):
        pct = lambda x: f"{x:+.1f} %" if math.isfinite(x) else "n/a (no overlap)"  # noqa: E731
        lines.append(f"| {clip} | {codec} | {pct(values['psnr_y'])} | {pct(values['ms_ssim_y'])} |")
    return "\n".join(lines)


def quality_at_table(points: Sequence[RdPoint], rates_bpp: Sequence[float]) -> str:
    """PSNR-Y and MS-SSIM-Y of each curve at given bpp values (PCHIP in log rate; n/a outside)."""
    head = "| clip | codec |" + "".join(f" PSNR-Y dB / MS-SSIM-Y at {b:g} bpp |" for b in rates_bpp)
    lines = [head, "|---|---|" + "---:|" * len(rates_bpp)]
    for clip, codecs in _group(points).items():
        for codec, pts in codecs.items():
            rates = [p.bpp for p in pts]
            cells = []
            for b in rates_bpp:
                psnr = quality_at_rate(rates, [p.psnr_y for p in pts], b)
                msssim = quality_at_rate(rates, [p.ms_ssim_y for p in pts], b)
                cells.append(f" {_fmt(psnr, '.2f')} / {_fmt(msssim, '.4f')} |")
            lines.append(f"| {clip} | {codec} |" + "".join(cells))
    return "\n".join(lines)


# Metrics compared against the classic envelope; PSNR-YUV sits beside PSNR-Y so that a
# colour cast (free in PSNR-Y, plain to every viewer) shows up. VMAF only when measured.
ENVELOPE_METRICS = {"psnr_y": "PSNR-Y", "psnr_yuv": "PSNR-YUV", "ms_ssim_y": "MS-SSIM-Y", "vmaf": "VMAF"}
_DIGITS = {"psnr_y": ".2f", "psnr_yuv": ".2f", "ms_ssim_y": ".4f", "vmaf": ".2f"}


def _outside(env, rate: float) -> str:
    """Why the envelope has no quality at ``rate``: the rate lies below or above every classic curve."""
    if env is not None and env.rates.size and rate > env.rates[-1]:
        return "above every classic curve"
    return "below every classic curve"


def envelope_tables(points: Sequence[RdPoint], families: Sequence[str] = CLASSIC_FAMILIES) -> str:
    """Every non-classic point next to the classic envelope at its rate, and BD-rates against it."""
    envs = clip_envelopes(points, list(ENVELOPE_METRICS), families)
    metrics = [m for m in ENVELOPE_METRICS if any(m in e for e in envs.values())]
    tested = [p for p in points if not is_classic(p.codec, families)]
    if not tested or not envs:
        return "(no envelope table: the run needs classic curves and at least one other codec)"
    head = " | ".join(f"{ENVELOPE_METRICS[m]} (envelope)" for m in metrics)
    lines = [
        f"| clip | codec | setting | bpp | {head} | best classic curve at this rate (PSNR-Y) |",
        "|---|---|---|---:|" + "---:|" * len(metrics) + "---|",
    ]
    for p in sorted(tested, key=lambda q: (q.clip, q.codec, q.bpp)):
        env = envs.get(p.clip, {})
        cells = []
        for m in metrics:
            ours = _fmt(getattr(p, m), _DIGITS[m])
            theirs = env[m].quality_at(p.bpp) if m in env else math.nan
            cells.append(f"{ours} ({_fmt(theirs, _DIGITS[m]) if math.isfinite(theirs) else _outside(env.get(m), p.bpp)})")
        best = env["psnr_y"].source_at(p.bpp) if "psnr_y" in env else ""
        lines.append(f"| {p.clip} | {p.codec} | {p.setting} | {p.bpp:.4f} | " + " | ".join(cells) + f" | {best or 'none reaches this rate'} |")
    lines += ["", f"BD-rate (bpp) against the {ENVELOPE}, over the overlapping quality range "
              "(negative: fewer bits than the best classic choice at equal quality):", ""]
    lines += ["| clip | codec | " + " | ".join(f"BD-rate {ENVELOPE_METRICS[m]}" for m in metrics) + " |",
              "|---|---|" + "---|" * len(metrics)]
    by_curve: Dict[Tuple[str, str], List[RdPoint]] = {}
    for p in tested:
        by_curve.setdefault((p.clip, p.codec), []).append(p)
    for (clip, codec), pts in by_curve.items():
        env = envs.get(clip, {})
        cells = []
        for m in metrics:
            values = [getattr(p, m) for p in pts]
            if m not in env or not all(math.isfinite(v) for v in values):
                cells.append("not measured")
                continue
            r = bd_rate_vs_envelope(env[m], [p.bpp for p in pts], values)
            spec = _DIGITS[m]
            ranges = (f"{codec} {format(r.test_range[0], spec)}-{format(r.test_range[1], spec)}, "
                      f"envelope {format(r.envelope_range[0], spec)}-{format(r.envelope_range[1], spec)}")
            if r.defined:
                lo, hi = overlap_range(r)
                cells.append(f"{r.percent:+.1f} % (over {format(lo, spec)}-{format(hi, spec)})")
            else:
                cells.append(f"n/a, {r.note} ({ranges})")
        lines.append(f"| {clip} | {codec} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(points: Sequence[RdPoint], anchor: str, at_bpp: Sequence[float], command: str, header: str = "") -> str:
    parts = ["# RD results", ""]
    if header:
        parts += [header, ""]
    parts += [f"Command: `{command}`", ""]
    parts += ["## Floor (lowest rate reached) per codec", "", floor_table(points), ""]
    parts += [f"## Against the {ENVELOPE} (best quality any classic curve reaches at each rate: "
              "full size, floors, downscaled)", "", envelope_tables(points), ""]
    parts += [f"## BD-rate (bpp) against {anchor}, over the overlapping quality range", "", bd_rate_table(points, anchor), ""]
    if at_bpp:
        parts += ["## Quality at fixed rates (interpolated; n/a outside a curve)", "", quality_at_table(points, at_bpp), ""]
    parts += ["## Ladders", "", ladder_table(points), ""]
    return "\n".join(parts)
