"""``tvc info FILE.tvc``: the sequence header, one line per GoP, and damage."""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional, Sequence

from ..bitstream import CHROMA_FORMATS, COLOR_RANGES, SUBSTREAM_CONTINUOUS, Damaged, TvcReader


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tvc info",
        description=(
            "Print a .tvc file's sequence header and, per GoP, its frame count, first pts, "
            "quality level, mask pattern, coded picture size, size (bytes, and bits per pixel = bytes*8 / "
            "(width*height*frames)), and, for GoPs that carry the continuous substream, its quantisation "
            "step (latent units) and its bytes ('-' for token-only GoPs). Damaged, missing, repeated and out-of-order GoPs and a "
            "stream that ends early are flagged with the GoPs and frames they cost; the exit "
            "status is 1 when any was found. '-' reads the stream from stdin."
        ),
    )
    p.add_argument("file", help="the .tvc file to inspect, or '-' for stdin")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    reader = TvcReader(sys.stdin.buffer if args.file == "-" else args.file)
    h = reader.header
    pixels = h.width * h.height
    gops: List[dict] = []
    damaged: List[dict] = []
    frames = 0
    for item in reader:
        if isinstance(item, Damaged):
            damaged.append(
                {
                    "offset": item.offset,
                    "size": item.size,
                    "error": type(item.error).__name__,
                    "message": str(item.error),
                    "lost_gops": item.gops,
                    "lost_frames": item.frames,
                    "first_lost_gop": item.first_gop,
                    "text": item.describe(),
                }
            )
            continue
        packet = item.packet
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
                "bytes": len(item.packet_bytes),
                "substreams": {str(k): len(p) for k, p in packet.substreams},
                "continuous_bytes": len(packet.substream(SUBSTREAM_CONTINUOUS) or b""),
                "bpp": len(item.packet_bytes) * 8 / (pixels * packet.frame_count),
            }
        )
    lost = [d["lost_gops"] for d in damaged]
    lost_gops = None if None in lost else sum(lost)
    lost_f = [d["lost_frames"] for d in damaged]
    lost_frames = None if None in lost_f else sum(lost_f)
    end = None if reader.end is None else {"gops": reader.end.gop_count, "frames": reader.end.frame_count}
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
            "lost_gops": lost_gops,
            "lost_frames": lost_frames,
            "end_record": end,
            "end_verified": reader.end_verified,
        }
        json.dump(doc, sys.stdout, indent=2)
        print()
    else:
        fr = f"{h.frame_rate[0]}/{h.frame_rate[1]}" if h.frame_rate[0] else "unknown"
        print(f"file        {'stdin' if args.file == '-' else args.file} ({reader.size} bytes)")
        print(f"version     {h.version_major}.{h.version_minor}")
        print(f"model       {h.model_id} (weights sha256 {h.weights_sha256.hex()[:16]}...)")
        print(f"picture     {h.width}x{h.height}, {CHROMA_FORMATS.get(h.chroma_format)} "
              f"{h.bit_depth}-bit source, SAR {h.sample_aspect_ratio[0]}:{h.sample_aspect_ratio[1]}")
        print(f"colour      primaries {h.color_primaries}, transfer {h.color_trc}, "
              f"matrix {h.colorspace}, range {COLOR_RANGES.get(h.color_range)}")
        print(f"timing      {fr} fps, time base {h.time_base[0]}/{h.time_base[1]}, "
              f"GoP length {h.gop_length}")
        print(f"{'gop':>5} {'frames':>6} {'first_pts':>10} {'q':>3} {'mask':>4} {'coded':>11} "
              f"{'bytes':>8} {'bpp':>9} {'step':>7} {'cont':>7}")
        for g in gops:
            coded = "{}x{}".format(*g["coded_size"])
            # The step as the decoder uses it: continuous_step / 256 (docs/bitstream.md).
            step = f"{g['continuous_step'] / 256:.3f}" if g["continuous_step"] else "-"
            cont = str(g["continuous_bytes"]) if g["continuous_step"] else "-"
            print(f"{g['gop_index']:>5} {g['frames']:>6} {g['first_pts']:>10} {g['quality']:>3} "
                  f"{g['mask_pattern']:>4} {coded:>11} {g['bytes']:>8} {g['bpp']:>9.5f} {step:>7} {cont:>7}")
        for d in damaged:
            print(f"DAMAGED     {d['text']}")
        if damaged:
            cost = ("an unknown number of GoPs" if lost_gops is None else
                    f"{lost_gops} GoP(s)" + ("" if lost_frames is None else f", {lost_frames} frame(s)"))
            lost_text = f", {len(damaged)} loss(es): {cost} lost"
        else:
            lost_text = ""
        if end is not None:
            end_text = f"end record: {end['gops']} GoPs, {end['frames']} frames"
        elif reader.end_verified:
            end_text = "end record missing: the stream ends early"
        else:
            end_text = "no end record: the end of the stream could not be verified"
        print(f"total       {len(gops)} GoPs, {frames} frames, {total_bpp:.5f} bpp{lost_text}")
        print(f"end         {end_text}")
    return 1 if damaged else 0
