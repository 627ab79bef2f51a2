"""bench/tokenizer_speed.py: the wider-decoder timing prints one row per factor, widths
scaled and rounded to multiples of 8, the first factor as the x1.00 reference."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "tokenizer_speed.py"


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), "--threads", "1", "--width", "64", "--height", "32",
                           "--gop", "9", "--gops", "1", *args], capture_output=True, text=True, timeout=300)


def test_decoder_scales_rows():
    done = _run("--decoder-scales", "1", "1.5")
    assert done.returncode == 0, done.stderr
    rows = re.findall(r"decoder x([\d.]+) widths \(([\d, ]+)\): .* MACs/pixel, .* frames/s, time x([\d.]+)", done.stdout)
    assert [r[0] for r in rows] == ["1", "1.5"]
    assert rows[0][1] == "64, 128, 192, 256" and rows[1][1] == "96, 192, 288, 384"
    assert rows[0][2] == "1.00"
    macs = [int(m) for m in re.findall(r"(\d+) MACs/pixel, [\d.]+ frames/s", done.stdout)]
    assert macs[1] > 2 * macs[0]  # 1.5x the widths: about 2.1x the multiply-adds


def test_bad_decoder_scale_is_refused_by_name():
    done = _run("--decoder-scales", "0")
    assert done.returncode == 2 and "--decoder-scales: each factor must be positive" in done.stderr
