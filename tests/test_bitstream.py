"""The bitstream (docs/bitstream.md): round trips, the byte layout as the spec
states it, and one test per row of the spec's damage table."""

import dataclasses
import io
import struct
import sys
import time
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tvc_ffmpeg as tvc
from tvc_ffmpeg import _native
from tvc_ffmpeg.settings import EncoderSettings
from tvc_ffmpeg.bitstream import (
    BITSTREAM_VERSION,
    FILE_SIGNATURE,
    FLAG_END_RECORD,
    Damaged,
    EndOfStream,
    Record,
    GopPacket,
    SequenceHeader,
    TvcReader,
    TvcWriter,
    require_model,
)

SHA = bytes(range(32))


def header(**kw):
    base = dict(model_id="tvc-s-v1", weights_sha256=SHA, width=640, height=272, gop_length=17,
                frame_rate=(25, 1), time_base=(1, 25), sample_aspect_ratio=(1, 1),
                color_primaries=1, color_trc=1, colorspace=1, color_range=1)
    base.update(kw)
    return SequenceHeader(**base)


def uv(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def with_crc(body):
    return body + struct.pack("<I", zlib.crc32(body))


def spec_sequence_header(version=(2, 1), width=640, extra=b"", model=b"tvc-s-v1", color_range=1):
    """A sequence-header packet built from the spec's table, independently of the C++ writer."""
    fields = struct.pack("<BB", *version) + model.ljust(32, b"\0") + SHA
    fields += struct.pack("<HH", width, 272) + struct.pack("<6I", 25, 1, 1, 25, 1, 1)
    fields += bytes([1, 1, 1, color_range, 1, 8]) + struct.pack("<HH", 17, 0) + extra
    return with_crc(bytes([1]) + uv(len(fields)) + fields)


def spec_gop(frames=17, substreams=((1, b"\x00\x00\x01\x00"),), extra=b"", coded=(320, 136), index=0):
    fields = uv(index) + uv(frames) + uv(0) + bytes([3, 0]) + uv(0) + uv(coded[0]) + uv(coded[1])
    fields += bytes([0, len(substreams)]) + extra
    body = bytes([2]) + uv(len(fields)) + fields
    for kind, payload in substreams:
        body += bytes([kind]) + uv(len(payload)) + payload
    return with_crc(body)


def tvc_file(*packets):
    out = FILE_SIGNATURE
    for p in packets:
        out += b"TV" + uv(len(p)) + p
    return out


# ---------------------------------------------------------------- round trips and layout

def test_writer_matches_spec_layout():
    assert header().to_bytes() == spec_sequence_header()
    assert len(header().to_bytes()) == 1 + 1 + 104 + 4
    gop = GopPacket(gop_index=0, frame_count=17, quality=3, coded_width=320, coded_height=136, substreams=((1, b"\x00\x00\x01\x00"),))
    assert gop.to_bytes() == spec_gop()


def test_dataclass_fields_come_from_the_native_tables():
    # One field list per structure: the binding's table; the dataclasses take its names,
    # order and defaults (those of the C++ structs).
    for cls, names, defaults in [
        (SequenceHeader, _native.SEQUENCE_HEADER_FIELDS, _native.SEQUENCE_HEADER_DEFAULTS),
        (GopPacket, _native.GOP_PACKET_FIELDS, _native.GOP_PACKET_DEFAULTS),
        (EndOfStream, _native.END_OF_STREAM_FIELDS, _native.END_OF_STREAM_DEFAULTS),
    ]:
        fields = dataclasses.fields(cls)
        assert tuple(f.name for f in fields) == names
        assert {f.name: f.default for f in fields if f.default is not dataclasses.MISSING} == defaults
    assert [n for n in _native.SEQUENCE_HEADER_FIELDS if n not in _native.SEQUENCE_HEADER_DEFAULTS] == [
        "model_id", "weights_sha256", "width", "height", "gop_length"]
    assert (_native.SEQUENCE_HEADER_DEFAULTS["version_major"],
            _native.SEQUENCE_HEADER_DEFAULTS["version_minor"]) == BITSTREAM_VERSION
    assert _native.GOP_PACKET_DEFAULTS["substreams"] == ()
    # The positional constructors keep their order; the classes stay frozen, comparable, hashable.
    h = SequenceHeader("tvc-s-v1", SHA, 640, 272, 17)
    assert h == header(frame_rate=(0, 1), time_base=(1, 1), sample_aspect_ratio=(0, 1), color_primaries=2,
                       color_trc=2, colorspace=2, color_range=0) and h.fps is None
    assert SequenceHeader.from_bytes(h.to_bytes()) == h and hash(h) == hash(SequenceHeader.from_bytes(h.to_bytes()))
    g = GopPacket(3, 17, coded_width=320, coded_height=136, substreams=[(1, b"x")])
    assert GopPacket.from_bytes(g.to_bytes()) == dataclasses.replace(g, substreams=((1, b"x"),))
    assert EndOfStream(4, 56) == EndOfStream(gop_count=4, frame_count=56)
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.width = 1


@pytest.mark.parametrize("make, message", [
    (lambda: header(width=-1), "SequenceHeader.width must be an integer 0..4294967295, got -1"),
    (lambda: header(color_range=256), "SequenceHeader.color_range must be an integer 0..255, got 256"),
    (lambda: header(width=640.0), "SequenceHeader.width must be an integer 0..4294967295, got 640.0"),
    (lambda: header(frame_rate=(25,)), "SequenceHeader.frame_rate must be a (num, den) pair"),
    (lambda: header(weights_sha256=b"short"), "SequenceHeader.weights_sha256 must be 32 bytes, got b'short'"),
    (lambda: header(model_id=7), "SequenceHeader.model_id must be a str, got 7"),
    (lambda: GopPacket(0, 17, coded_width=320, coded_height=136, substreams=((300, b""),)),
     "GopPacket.substreams kind must be an integer 0..255, got 300"),
    (lambda: GopPacket(0, 17, coded_width=320, coded_height=136, substreams=((1, "text"),)),
     "GopPacket.substreams must be a sequence of (kind 0..255, payload bytes) pairs"),
    (lambda: EndOfStream(-1, 0), "EndOfStream.gop_count must be an integer 0..18446744073709551615, got -1"),
])
def test_bad_field_values_name_the_field(make, message):
    # These ended in pybind11's "Unable to cast Python instance" RuntimeError, naming nothing.
    with pytest.raises(tvc.InvalidArgumentError) as caught:
        make().to_bytes()
    assert message in str(caught.value)


def test_native_writers_refuse_missing_and_unknown_fields():
    fields = {f.name: getattr(header(), f.name) for f in dataclasses.fields(SequenceHeader)}
    with pytest.raises(tvc.InvalidArgumentError, match="SequenceHeader has no field colour_range"):
        _native.write_sequence_header({**fields, "colour_range": 1})
    del fields["gop_length"]
    with pytest.raises(tvc.InvalidArgumentError, match="SequenceHeader field gop_length is missing"):
        _native.write_sequence_header(fields)
    with pytest.raises(tvc.InvalidArgumentError, match="EndOfStream fields must be a dict"):
        _native.write_end_of_stream((4, 56))


@settings(max_examples=80, deadline=None)
@given(
    w=st.integers(1, 16384), h=st.integers(1, 16384), gop=st.integers(1, 1024),
    fr=st.tuples(st.integers(0, 2**32 - 1), st.integers(1, 2**32 - 1)),
    tb=st.tuples(st.integers(1, 2**32 - 1), st.integers(1, 2**32 - 1)),
    colors=st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
                     st.integers(0, 2), st.integers(0, 3), st.integers(8, 16)),
    model=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=32),
    sha=st.binary(min_size=32, max_size=32),
)
def test_sequence_header_round_trip(w, h, gop, fr, tb, colors, model, sha):
    hdr = SequenceHeader(model_id=model, weights_sha256=sha, width=w, height=h, gop_length=gop,
                         frame_rate=fr, time_base=tb, color_primaries=colors[0],
                         color_trc=colors[1], colorspace=colors[2], color_range=colors[3],
                         chroma_format=colors[4], bit_depth=colors[5])
    assert SequenceHeader.from_bytes(hdr.to_bytes()) == hdr


@settings(max_examples=80, deadline=None)
@given(
    index=st.integers(0, 2**32 - 1), frames=st.integers(1, 1024),
    pts=st.integers(-2**63, 2**63 - 1), q=st.integers(0, 255), mask=st.integers(0, 255),
    step=st.integers(0, 65535), coded=st.tuples(st.integers(1, 16384), st.integers(1, 16384)),
    subs=st.lists(st.binary(max_size=300), max_size=2),
)
def test_gop_packet_round_trip(index, frames, pts, q, mask, step, coded, subs):
    pkt = GopPacket(gop_index=index, frame_count=frames, first_pts=pts, quality=q,
                    mask_pattern=mask, continuous_step=step, coded_width=coded[0], coded_height=coded[1],
                    substreams=tuple((k + 1, p) for k, p in enumerate(subs)))
    assert GopPacket.from_bytes(pkt.to_bytes()) == pkt


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(0, 2000), min_size=0, max_size=8), data=st.data())
def test_file_round_trip(tmp_path_factory, sizes, data):
    path = tmp_path_factory.mktemp("f") / "x.tvc"
    hdr = header()
    written = []
    with TvcWriter(path, hdr) as w:
        for i, n in enumerate(sizes):
            payload = data.draw(st.binary(min_size=n, max_size=n))
            frames = 17 if i < len(sizes) - 1 else 1 + i % 17  # only the last GoP may be short
            pkt = GopPacket(gop_index=i, frame_count=frames, first_pts=17 * i,
                            coded_width=320 * (1 + i % 2), coded_height=136 * (1 + i % 2), substreams=((1, payload),))
            w.write_packet(pkt)
            written.append(pkt)
    r = TvcReader(path)
    assert r.header == dataclasses.replace(hdr, flags=FLAG_END_RECORD)
    assert [item.packet for item in r] == written
    assert r.end == EndOfStream(len(sizes), sum(p.frame_count for p in written)) and r.end_verified


def test_writer_refuses_out_of_order_and_oversized_gops(tmp_path):
    with TvcWriter(tmp_path / "a.tvc", header()) as w:
        with pytest.raises(tvc.InvalidArgumentError, match="index"):
            w.write_packet(GopPacket(gop_index=1, frame_count=1, coded_width=640, coded_height=272))
        with pytest.raises(tvc.InvalidArgumentError, match="GoP length"):
            w.write_packet(GopPacket(gop_index=0, frame_count=18, coded_width=640, coded_height=272))
        with pytest.raises(tvc.InvalidArgumentError, match="coded"):
            w.write_packet(GopPacket(gop_index=0, frame_count=17, coded_width=1281, coded_height=272))


# ---------------------------------------------------------------- the damage table, row by row

def test_missing_signature_is_invalid_data():
    with pytest.raises(tvc.InvalidDataError, match="signature"):
        _native.scan_records(b"RIFF" + b"\0" * 20)


@pytest.mark.parametrize("major", [1, 3])
def test_other_major_versions_are_unsupported(major):
    # Major 1 was tvc-ffmpeg 0.1's development format (no coded size per GoP).
    with pytest.raises(tvc.UnsupportedVersionError, match="reads 2.x"):
        SequenceHeader.from_bytes(spec_sequence_header(version=(major, 0)))


def test_newer_minor_version_decodes_and_skips_unknown_fields():
    h = SequenceHeader.from_bytes(spec_sequence_header(version=(2, 3), extra=b"future!"))
    assert (h.version_major, h.version_minor, h.width) == (2, 3, 640)
    p = GopPacket.from_bytes(spec_gop(extra=b"\x01\x02"))
    assert p.frame_count == 17


@pytest.mark.parametrize("packet", [
    spec_sequence_header(color_range=3),
    spec_sequence_header(width=0),
    spec_sequence_header(model=b"Bad Model!"),
])
def test_out_of_range_header_fields_are_invalid_data(packet):
    with pytest.raises(tvc.InvalidDataError):
        SequenceHeader.from_bytes(packet)


def test_out_of_range_gop_fields_are_invalid_data():
    with pytest.raises(tvc.InvalidDataError, match="frame count"):
        GopPacket.from_bytes(spec_gop(frames=18), header())
    with pytest.raises(tvc.InvalidDataError, match="frame count"):
        GopPacket.from_bytes(spec_gop(frames=0))
    # The coded picture may be at most twice the source's size a side, and not empty.
    assert GopPacket.from_bytes(spec_gop(coded=(1280, 544)), header()).coded_width == 1280
    with pytest.raises(tvc.InvalidDataError, match="coded width"):
        GopPacket.from_bytes(spec_gop(coded=(1281, 272)), header())
    with pytest.raises(tvc.InvalidDataError, match="coded height"):
        GopPacket.from_bytes(spec_gop(coded=(640, 0)))


def test_model_mismatch_is_refused():
    h = header()
    require_model(h, "tvc-s-v1", SHA)
    with pytest.raises(tvc.ModelMismatchError, match="tvc-s-v1"):
        require_model(h, "tvc-s-v2", SHA)
    with pytest.raises(tvc.ModelMismatchError):
        require_model(h, "tvc-s-v1", bytes(32))


def test_crc_mismatch_drops_only_that_gop(tmp_path):
    good = spec_gop()
    bad = bytearray(good)
    bad[5] ^= 0x40
    with pytest.raises(tvc.CrcMismatchError):
        GopPacket.from_bytes(bytes(bad))
    path = tmp_path / "d.tvc"
    path.write_bytes(tvc_file(spec_sequence_header(), good, bytes(bad), spec_gop(index=2)))
    results = list(TvcReader(path))
    assert [isinstance(r, Record) for r in results] == [True, False, True]
    assert isinstance(results[1].error, tvc.CrcMismatchError)


def test_truncated_packet_and_file():
    with pytest.raises(tvc.TruncatedDataError):
        GopPacket.from_bytes(spec_gop()[:3])
    data = tvc_file(spec_sequence_header(), spec_gop(), spec_gop())
    records = _native.scan_records(data[:-5])
    assert [r["error"] for r in records] == [0, 0, tvc.TruncatedDataError.code]


def test_oversized_record_and_picture_hit_limits():
    data = FILE_SIGNATURE + b"TV" + uv(65 << 20) + b"\0" * 10
    assert _native.scan_records(data)[0]["error"] == tvc.LimitExceededError.code
    with pytest.raises(tvc.LimitExceededError):
        header(width=16385).to_bytes()
    with pytest.raises(tvc.LimitExceededError):
        SequenceHeader.from_bytes(spec_sequence_header(width=20000))


def test_lost_sync_resynchronises_at_next_valid_record(tmp_path):
    data = bytearray(tvc_file(spec_sequence_header(), spec_gop(), spec_gop(index=1), spec_gop(index=2)))
    second = len(tvc_file(spec_sequence_header(), spec_gop()))
    data[second : second + 2] = b"XX"  # destroy the second GoP's sync
    path = tmp_path / "s.tvc"
    path.write_bytes(bytes(data))
    results = list(TvcReader(path))
    assert [isinstance(r, Record) for r in results] == [True, False, True]
    assert isinstance(results[1].error, tvc.InvalidDataError)


def test_fake_syncs_do_not_make_scanning_quadratic():
    # A hostile file of fake syncs claiming huge packets: must finish quickly.
    junk = (b"TV" + uv(60 << 20)) * 200_000
    records = _native.scan_records(FILE_SIGNATURE + junk)
    assert records and records[0]["error"] != 0


def test_unknown_packet_type_is_skipped(tmp_path):
    odd = with_crc(bytes([9]) + uv(3) + b"abc")
    path = tmp_path / "u.tvc"
    path.write_bytes(tvc_file(spec_sequence_header(), spec_gop(), odd, spec_gop(index=1)))
    assert [isinstance(r, Record) for r in TvcReader(path)] == [True, True]


def test_unknown_substream_kinds():
    with pytest.raises(tvc.UnsupportedVersionError, match="kind 5"):
        GopPacket.from_bytes(spec_gop(substreams=((5, b"xy"),)))
    p = GopPacket.from_bytes(spec_gop(substreams=((1, b"ab"), (200, b"ignored"))))
    assert p.substreams == ((1, b"ab"), (200, b"ignored"))  # kept for whoever knows the kind
    with pytest.raises(tvc.InvalidDataError, match="same kind"):
        GopPacket.from_bytes(spec_gop(substreams=((1, b"ab"), (1, b"cd"))))


def test_bytes_after_last_substream_are_invalid():
    body = spec_gop()[:-4] + b"!"
    with pytest.raises(tvc.InvalidDataError, match="after the last substream"):
        GopPacket.from_bytes(with_crc(body))


def test_damaged_sequence_header_refuses_file(tmp_path):
    hdr = bytearray(spec_sequence_header())
    hdr[20] ^= 1
    path = tmp_path / "h.tvc"
    path.write_bytes(tvc_file(bytes(hdr), spec_gop()))
    with pytest.raises(tvc.InvalidDataError, match="sequence header"):
        TvcReader(path)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_parsers_survive_arbitrary_bytes(data):
    for parse in (lambda d: SequenceHeader.from_bytes(d), lambda d: GopPacket.from_bytes(d)):
        try:
            parse(data)
        except tvc.TvcError:
            pass
    try:
        _native.scan_records(FILE_SIGNATURE + data)
    except tvc.TvcError:
        pass


# ---------------------------------------------------------------- streaming, order, end record

def gop(i, frames=17):
    return GopPacket(gop_index=i, frame_count=frames, coded_width=320, coded_height=136,
                     substreams=((1, b"\x00\x00\x01\x00"),))


def write_stream(path_or_file, frames=(17, 17, 17, 5), **kw):
    with TvcWriter(path_or_file, header(), **kw) as w:
        for i, n in enumerate(frames):
            w.write_packet(gop(i, n))
    return w


def test_reader_reads_a_pipe_record_by_record():
    # The reader must hand out GoP 0 while the writer has not written GoP 1 yet:
    # it does not wait for the end of the input.
    import os
    import threading

    rfd, wfd = os.pipe()
    buf = io.BytesIO()
    write_stream(buf)
    data = buf.getvalue()
    items = list(TvcReader(io.BytesIO(data)))
    first_end = items[0].offset + items[0].size
    release = threading.Event()

    def producer():
        with os.fdopen(wfd, "wb", buffering=0) as f:
            f.write(data[:first_end])
            release.wait(10)
            f.write(data[first_end:])

    t = threading.Thread(target=producer)
    t.start()
    with os.fdopen(rfd, "rb") as f:
        reader = TvcReader(f)
        it = iter(reader)
        assert next(it).packet.gop_index == 0  # would block forever if the reader read ahead
        release.set()
        rest = list(it)
    t.join()
    assert [r.packet.gop_index for r in rest] == [1, 2, 3]
    assert reader.end == EndOfStream(4, 56) and reader.size == len(data)


def test_reader_follows_a_growing_file(tmp_path):
    import threading

    buf = io.BytesIO()
    write_stream(buf)
    data = buf.getvalue()
    path = tmp_path / "grow.tvc"
    path.write_bytes(data[:200])

    def append():
        with open(path, "ab") as f:
            for i in range(200, len(data), 37):
                f.write(data[i:i + 37])
                f.flush()
                time.sleep(0.01)

    t = threading.Thread(target=append)
    t.start()
    items = list(TvcReader(path, follow=True, poll_seconds=0.01))
    t.join()
    assert [r.packet.gop_index for r in items] == [0, 1, 2, 3]


def test_record_scanner_refuses_huge_record_before_buffering():
    s = _native.RecordScanner()
    s.feed(FILE_SIGNATURE + b"TV" + uv(65 << 20) + b"\0" * 100)
    # Refused from the size field alone: nothing is held waiting for 65 MiB.
    assert s.next() is None and s.buffered == 0
    s.finish()
    rec = s.next()
    assert rec["error"] == tvc.LimitExceededError.code and rec["offset"] == 8
    assert s.next() is None


def losses(path_or_bytes):
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    reader = TvcReader(src)
    items = list(reader)
    return reader, [i for i in items if isinstance(i, Record)], [i for i in items if isinstance(i, Damaged)]


def stream_bytes(frames=(17, 17, 17, 5), **kw):
    buf = io.BytesIO()
    write_stream(buf, frames, **kw)
    return buf.getvalue()


def split(data):
    items = list(TvcReader(io.BytesIO(data)))
    head = data[:items[0].offset]
    recs = [data[i.offset:i.offset + i.size] for i in items]
    tail = data[items[-1].offset + items[-1].size:]  # the end record
    return head, recs, tail


def test_duplicate_gop_is_dropped_and_reported():
    head, recs, tail = split(stream_bytes())
    reader, good, bad = losses(head + recs[0] + recs[1] + recs[1] + recs[2] + recs[3] + tail)
    assert [r.packet.gop_index for r in good] == [0, 1, 2, 3]
    assert len(bad) == 1 and "GoP 1 repeated: dropped" in str(bad[0].error)
    assert (bad[0].gops, bad[0].frames) == (0, 0)


def test_swapped_gops_never_come_out_of_order():
    head, recs, tail = split(stream_bytes())
    reader, good, bad = losses(head + recs[0] + recs[2] + recs[1] + recs[3] + tail)
    assert [r.packet.gop_index for r in good] == [0, 2, 3]
    assert [(d.gops, d.frames) for d in bad] == [(1, 17), (0, 0)]
    assert "GoP 1 missing" in str(bad[0].error) and "GoP 1 out of order" in str(bad[1].error)


def test_removed_gop_is_counted():
    head, recs, tail = split(stream_bytes())
    reader, good, bad = losses(head + recs[0] + recs[2] + recs[3] + tail)
    assert [(d.gops, d.frames, d.first_gop) for d in bad] == [(1, 17, 1)]


def test_consecutive_damaged_gops_are_counted_one_by_one():
    # Defect 6: four damaged GoPs in a row are four GoPs and their frames, not "1 damaged".
    head, recs, tail = split(stream_bytes((17, 17, 17, 17, 17, 17)))
    hurt = [r[:-6] + bytes([r[-6] ^ 0xFF]) + r[-5:] for r in recs]
    reader, good, bad = losses(head + recs[0] + b"".join(hurt[1:5]) + recs[5] + tail)
    assert [(d.gops, d.frames, d.first_gop) for d in bad] == [(4, 68, 1)]
    assert isinstance(bad[0].error, tvc.CrcMismatchError)
    assert "4 GoP(s) (1..4), 68 frame(s) lost" in bad[0].describe()
    # Up to the end: the end record tells how many, the last one short.
    reader, good, bad = losses(head + recs[0] + b"".join(hurt[1:4]) + recs[4][:0] + tail)
    assert [(d.gops, d.frames) for d in bad] == [(5, 5 * 17)]


def test_damage_to_the_end_is_counted_from_the_end_record():
    head, recs, tail = split(stream_bytes())  # 17, 17, 17, 5 frames
    hurt = [r[:-6] + bytes([r[-6] ^ 0xFF]) + r[-5:] for r in recs]
    reader, good, bad = losses(head + recs[0] + b"".join(hurt[1:]) + tail)
    assert [(d.gops, d.frames) for d in bad] == [(3, 39)]


def test_end_record_layout_and_version():
    assert BITSTREAM_VERSION == (2, 1)
    packet = EndOfStream(4, 56).to_bytes()
    assert packet == with_crc(bytes([3]) + uv(2) + uv(4) + uv(56))
    assert EndOfStream.from_bytes(packet, header()) == EndOfStream(4, 56)
    with pytest.raises(tvc.InvalidDataError, match="cannot fill"):
        EndOfStream.from_bytes(EndOfStream(4, 40).to_bytes(), header())  # 3 full GoPs are 51 frames


def test_stream_cut_between_records_ends_early():
    head, recs, tail = split(stream_bytes())
    reader, good, bad = losses(head + b"".join(recs[:3]))  # last GoP and end record cut off
    assert len(good) == 3 and len(bad) == 1
    assert isinstance(bad[0].error, tvc.TruncatedDataError) and "ends early" in str(bad[0].error)
    assert bad[0].gops is None
    # With the end record but a GoP short of it: exactly what is missing.
    reader, good, bad = losses(head + b"".join(recs[:3]) + tail)
    assert [(d.gops, d.frames, d.first_gop) for d in bad] == [(1, 5, 3)]
    assert "ends early" in str(bad[0].error)


def test_stream_without_end_record_decodes_with_a_note(caplog):
    data = stream_bytes(end_record=False)
    with caplog.at_level("INFO"):
        reader, good, bad = losses(data)
    assert len(good) == 4 and bad == [] and not reader.end_verified
    assert "could not be verified" in caplog.text
    # A 2.0 stream (flags 0, no end record, minor 0) reads the same way.
    old = tvc_file(spec_sequence_header(version=(2, 0)), spec_gop(), spec_gop(index=1, frames=3))
    reader, good, bad = losses(old)
    assert [r.packet.frame_count for r in good] == [17, 3] and bad == []


def test_failed_write_leaves_the_target_untouched(tmp_path):
    target = tmp_path / "out.tvc"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with TvcWriter(target, header()) as w:
            w.write_packet(gop(0))
            raise RuntimeError("encoder failed")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tvc"]  # no temporary left
    fresh = tmp_path / "new.tvc"
    with pytest.raises(RuntimeError):
        with TvcWriter(fresh, header()):
            raise RuntimeError("nothing encoded")
    assert not fresh.exists()
    write_stream(fresh)
    assert len(losses(fresh)[1]) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.tvc", "out.tvc"]


def test_write_errors_name_the_target():
    import errno

    # A device is written in place: the error comes from the final flush, and used to
    # carry no file name at all.
    with pytest.raises(OSError) as caught:
        with TvcWriter("/dev/full", header()) as w:
            w.write_packet(gop(0))
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, "/dev/full")
    # An open file is named by its own name (sys.stdout.buffer's is "<stdout>"); unbuffered,
    # the first write (the signature, in the constructor) fails.
    with open("/dev/full", "wb", buffering=0) as full:
        with pytest.raises(OSError) as caught:
            TvcWriter(full, header())
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, "/dev/full")
    assert TvcWriter(io.BytesIO(), header()).name == "<stream>"  # a file object without a name


def test_info_reports_losses_and_reads_stdin(monkeypatch, capsys):
    import json

    from tvc_ffmpeg.cli import info

    head, recs, tail = split(stream_bytes())
    data = head + recs[0] + recs[2] + recs[3] + tail

    class Stdin:
        buffer = io.BytesIO(data)

    monkeypatch.setattr(sys, "stdin", Stdin)
    assert info.main(["-", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [g["gop_index"] for g in doc["gops"]] == [0, 2, 3]
    assert (doc["lost_gops"], doc["lost_frames"], doc["end_record"]) == (1, 17, {"gops": 4, "frames": 56})
    assert "GoP 1 missing" in doc["damaged"][0]["message"]
    monkeypatch.setattr(Stdin, "buffer", io.BytesIO(stream_bytes()))
    assert info.main(["-"]) == 0
    assert "end record: 4 GoPs, 56 frames" in capsys.readouterr().out


# ---------------------------------------------------------------- the same on real streams

@pytest.fixture(scope="module")
def real_stream(tmp_path_factory):
    """40 frames of a tiny random-weight model, GoP length 9: GoPs of 9, 9, 9, 9, 4 frames."""
    import numpy as np
    import torch
    from tokenizer_helpers import SMALL

    from tvc_ffmpeg.codec import CodecModel, Encoder
    from tvc_ffmpeg.files import encode_into
    from tvc_ffmpeg.models import CausalVideoTokenizer, export_weights
    from tvc_ffmpeg.video import Frame, VideoInfo

    torch.manual_seed(0)
    weights = tmp_path_factory.mktemp("w") / "tvc-test.pt"
    export_weights(CausalVideoTokenizer(SMALL).eval(), "tvc-test", weights)
    model = CodecModel.from_file(weights, backend="torch")
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    frames = [Frame(np.roll(base, i, axis=1), np.full((16, 16), 120, np.uint8),
                    np.full((16, 16), 130, np.uint8), pts=i) for i in range(40)]
    path = tmp_path_factory.mktemp("s") / "s.tvc"
    enc = Encoder(VideoInfo(width=32, height=32), EncoderSettings(gop_length=9), model=model)
    with TvcWriter(path, enc.header) as w:
        assert encode_into(w, enc, frames) == 40
    return path.read_bytes(), model, weights


@pytest.mark.parametrize("edit, frames, lost, message", [
    ("duplicate", 40, (0, 0), "GoP 1 repeated: dropped"),
    ("swap", 31, (1, 9), "GoP 1 out of order (after GoP 2): dropped"),
    ("remove", 31, (1, 9), "GoP 1 missing"),
    ("damage4", 9, (4, 31), "4 GoP(s) (1..4), 31 frame(s) lost"),
    ("cut", 36, (None, None), "ends early"),
    ("short", 36, (1, 4), "ends early"),
])
def test_real_stream_losses_decode_to_exact_frames(real_stream, tmp_path, caplog, edit, frames, lost, message):
    from tvc_ffmpeg.cli import decode
    from tvc_ffmpeg.files import TvcInput
    from tvc_ffmpeg.video import open_input

    data, model, weights = real_stream
    head, recs, tail = split(data)
    edited = {
        "duplicate": lambda: head + recs[0] + recs[1] + recs[1] + b"".join(recs[2:]) + tail,
        "swap": lambda: head + recs[0] + recs[2] + recs[1] + b"".join(recs[3:]) + tail,
        "remove": lambda: head + recs[0] + b"".join(recs[2:]) + tail,
        "damage4": lambda: head + recs[0] + b"".join(r[:-6] + bytes([r[-6] ^ 0xFF]) + r[-5:] for r in recs[1:]) + tail,
        "cut": lambda: head + b"".join(recs[:4]),
        "short": lambda: head + b"".join(recs[:4]) + tail,
    }[edit]()
    with caplog.at_level("WARNING"), TvcInput(io.BytesIO(edited), model=model) as src:
        pts = [f.pts for f in src]
    assert len(pts) == frames and pts == sorted(set(pts))  # no frame twice, none out of order
    assert (src.lost_gops, src.lost_frames) == lost
    assert message in caplog.text
    path, out = tmp_path / "e.tvc", tmp_path / "e.y4m"
    path.write_bytes(edited)
    assert decode.main([str(path), str(out), "--weights", str(weights)]) == 1
    with open_input(out) as r:
        assert len(list(r)) == frames


def test_real_stream_decodes_from_stdin(real_stream, tmp_path, monkeypatch):
    from tvc_ffmpeg.cli import decode
    from tvc_ffmpeg.video import open_input

    data, model, weights = real_stream

    class Stdin:
        buffer = io.BytesIO(data)

    monkeypatch.setattr(sys, "stdin", Stdin)
    out = tmp_path / "o.y4m"
    assert decode.main(["-", str(out), "--weights", str(weights)]) == 0
    with open_input(out) as r:
        assert len(list(r)) == 40


# ---------------------------------------------------------------- golden streams

EXPECTED_STREAMS = Path(__file__).parent / "expected" / "streams.json"
# (name, quality, mask pattern): each token-only level, the first level with the continuous
# stream (kind 2), and one pattern that drops tokens.
GOLDEN_CASES = [("q0", 0, 0), ("q1", 1, 0), ("q2", 2, 0), ("q3", 3, 0), ("q4", 4, 0), ("q2-mask2", 2, 2)]


def test_golden_stream_hashes(regen):
    """The default model's streams for a tiny synthetic clip, byte for byte: an accidental
    change of the format, the model or the coder shows here. Regenerate (and review why
    they changed) with pytest --regen-expected."""
    import hashlib
    import json

    import numpy as np
    import torch

    from tvc_ffmpeg.codec import CodecModel, Encoder
    from tvc_ffmpeg.files import encode_into
    from tvc_ffmpeg.video import Frame, VideoInfo

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # encoder tokens may depend on the thread count
    try:
        model = CodecModel.load(backend="torch")
        yy, xx = np.mgrid[0:48, 0:64]
        frames = [Frame(((4 * xx + 2 * yy + 8 * i) % 256).astype(np.uint8), np.full((24, 32), 110 + i, np.uint8),
                        np.full((24, 32), 140 - i, np.uint8), pts=i) for i in range(9)]
        got = {"model_id": model.model_id, "clip": "64x48, 9 frames, GoP length 9, diagonal ramp", "streams": {}}
        for name, quality, mask in GOLDEN_CASES:
            enc = Encoder(VideoInfo(width=64, height=48), EncoderSettings(gop_length=9, quality=quality, mask_pattern=mask), model=model)
            buf = io.BytesIO()
            with TvcWriter(buf, enc.header) as w:
                encode_into(w, enc, frames)
            got["streams"][name] = {"bytes": len(buf.getvalue()), "sha256": hashlib.sha256(buf.getvalue()).hexdigest()}
    finally:
        torch.set_num_threads(threads)
    if regen:
        EXPECTED_STREAMS.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(EXPECTED_STREAMS.read_text())
