"""``tvc info FILE.tvc``: the sequence header, one line per GoP, and damage."""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional, Sequence

from ..bitstream import CHROMA_FORMATS, COLOR_RANGES, TvcReader


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tvc info",
        description=(
            "Print a .tvc file's sequence header and, per GoP, its frame count, first pts, "
            "quality level, mask pattern, coded picture size and size (bytes, and bits per pixel = bytes*8 / "
            "(width*height*frames)). Damaged packets are flagged; the exit status is 1 "
            "when any damage was found."
        ),
    )
    p.add_argument("file", help="the .tvc file to inspect")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    reader = TvcReader(args.file)
    h = reader.header
    pixels = h.width * h.height
    gops: List[dict] = []
    damaged: List[dict] = []
    frames = 0
    for record, packet in reader:
        if packet is None:
            damaged.append(
                {
                    "offset": record.offset,
                    "size": record.packet_size,
                    "error": type(record.error).__name__,
                    "message": str(record.error),
                }
            )
            continue
        frames += packet.frame_count
        gops.append(
            {
                "gop_index": packet.gop_index,
                "frames": packet.frame_count,
                "first_pts": packet.first_pts,
                "quality": packet.quality,
                "mask_pattern": packet.mask_pattern,
                "continuous_step": packet.continuous_step,
                "coded_size": [packet.coded_width, packet.coded_height],
                "bytes": record.packet_size,
                "substreams": {str(k): len(p) for k, p in packet.substreams},
                "bpp": record.packet_size * 8 / (pixels * packet.frame_count),
            }
        )
    total_bpp = reader.size * 8 / (pixels * frames) if frames else 0.0
    if args.json:
        doc = {
            "header": {
                k: (v.hex() if isinstance(v, bytes) else v) for k, v in vars(h).items()
            },
            "file_bytes": reader.size,
            "frames": frames,
            "bpp": total_bpp,
            "gops": gops,
            "damaged": damaged,
        }
        json.dump(doc, sys.stdout, indent=2)
        print()
    else:
        fr = f"{h.frame_rate[0]}/{h.frame_rate[1]}" if h.frame_rate[0] else "unknown"
        print(f"file        {args.file} ({reader.size} bytes)")
        print(f"version     {h.version_major}.{h.version_minor}")
        print(f"model       {h.model_id} (weights sha256 {h.weights_sha256.hex()[:16]}...)")
        print(f"picture     {h.width}x{h.height}, {CHROMA_FORMATS.get(h.chroma_format)} "
              f"{h.bit_depth}-bit source, SAR {h.sample_aspect_ratio[0]}:{h.sample_aspect_ratio[1]}")
        print(f"colour      primaries {h.color_primaries}, transfer {h.color_trc}, "
              f"matrix {h.colorspace}, range {COLOR_RANGES.get(h.color_range)}")
        print(f"timing      {fr} fps, time base {h.time_base[0]}/{h.time_base[1]}, "
              f"GoP length {h.gop_length}")
        print(f"{'gop':>5} {'frames':>6} {'first_pts':>10} {'q':>3} {'mask':>4} {'coded':>11} "
              f"{'bytes':>8} {'bpp':>9}")
        for g in gops:
            coded = "{}x{}".format(*g["coded_size"])
            print(f"{g['gop_index']:>5} {g['frames']:>6} {g['first_pts']:>10} {g['quality']:>3} "
                  f"{g['mask_pattern']:>4} {coded:>11} {g['bytes']:>8} {g['bpp']:>9.5f}")
        for d in damaged:
            print(f"DAMAGED at byte {d['offset']} ({d['size']} bytes): {d['error']}: {d['message']}")
        print(f"total       {len(gops)} GoPs, {frames} frames, {total_bpp:.5f} bpp"
              + (f", {len(damaged)} damaged record(s)" if damaged else ""))
    return 1 if damaged else 0
