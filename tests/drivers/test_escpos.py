"""The ESC/POS encoder and decoder: golden bytes from the command reference, round trips, no command injection."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import ProtocolError
from drivers.escpos.commands import Align, EscPos, Mode, display_width, qr_function, status_query
from drivers.escpos.decode import (
    Command,
    PaperStatus,
    Text,
    decode,
    decode_paper_status,
    paper_status_byte,
    printed_text,
)
from drivers.escpos.errors import EscPosError, EscPosProtocolError


def test_golden_bytes() -> None:
    job = (
        EscPos()
        .init()
        .align(Align.CENTER)
        .mode(Mode.BOLD, Mode.DOUBLE_HEIGHT)
        .line("停车")
        .mode()
        .size(2, 3)
        .bold()
        .bold(False)
        .feed(2)
        .cut(partial=True, feed_dots=10)
        .build()
    )
    assert (
        job
        == (
            b"\x1b\x40"  # ESC @
            b"\x1c\x26"  # FS & Chinese mode
            b"\x1b\x61\x01"  # ESC a 1: centre
            b"\x1b\x21\x18" + "停车".encode("gb18030") + b"\x0a"  # ESC ! bold + double height
            b"\x1b\x21\x00"
            b"\x1d\x21\x12"  # GS ! width 2 height 3
            b"\x1b\x45\x01\x1b\x45\x00"
            b"\x1b\x64\x02"  # ESC d 2
            b"\x1d\x56\x42\x0a"  # GS V 66 10: partial cut
        )
    )
    assert "停车".encode("gb18030") == b"\xcd\xa3\xb3\xb5"


def test_single_byte_printer_init() -> None:
    assert EscPos(encoding="cp437", code_table=0).init().line("PAID").build() == (
        b"\x1b\x40\x1c\x2e\x1b\x74\x00PAID\x0a"
    )


def test_qr_code_commands() -> None:
    job = EscPos().qr("https://p.example/r/B1-0001", module=4, error_correction="Q").build()
    data = b"https://p.example/r/B1-0001"
    assert job == (
        b"\x1d\x28\x6b\x04\x00\x31\x41\x32\x00"  # fn 65: model 2
        b"\x1d\x28\x6b\x03\x00\x31\x43\x04"  # fn 67: module 4
        b"\x1d\x28\x6b\x03\x00\x31\x45\x32"  # fn 69: level Q
        + bytes((0x1D, 0x28, 0x6B, len(data) + 3, 0, 0x31, 0x50, 0x30))
        + data  # fn 80: store
        + b"\x1d\x28\x6b\x03\x00\x31\x51\x30"  # fn 81: print
    )
    items = decode(job)
    assert [i.name for i in items if isinstance(i, Command)] == [
        "qr_model", "qr_module", "qr_error_correction", "qr_store", "qr_print",
    ]  # fmt: skip
    assert Command("qr_store", data) in items
    long = "x" * 300
    assert qr_function(80, b"0" + long.encode())[3:5] == bytes((303 & 0xFF, 303 >> 8))
    assert Command("qr_store", long.encode()) in decode(EscPos().qr(long).build())


@pytest.mark.parametrize(
    "build",
    [
        lambda: EscPos().qr(""),
        lambda: EscPos().qr("x", module=0),
        lambda: EscPos().qr("x", error_correction="Z"),
        lambda: EscPos().size(9, 1),
        lambda: EscPos().feed(256),
        lambda: EscPos().cut(feed_dots=-1),
        lambda: status_query(5),
    ],
)
def test_bad_commands_refused(build: object) -> None:
    with pytest.raises(EscPosProtocolError) as info:
        build()  # type: ignore[operator]
    assert isinstance(info.value, ProtocolError)
    assert isinstance(info.value, EscPosError)


def test_control_characters_in_text_cannot_become_commands() -> None:
    job = EscPos().init().line("粤B\x1d\x56\x00123\x1b@").build()
    items = decode(job)
    assert [i for i in items if isinstance(i, Command) and i.name == "cut"] == []
    assert printed_text(items) == "粤B V 123 @\n"


def test_columns_count_chinese_as_two() -> None:
    assert display_width("金额:") == 5
    assert display_width("实收") == 4
    assert display_width("现金 ×2") == 8  # × is a double-byte (full-width) character on a Chinese printer
    assert display_width("×2", chinese=False) == 2
    job = EscPos(columns=20).columns_line("实收", "15.00").build()
    assert job.decode("gb18030") == "实收" + " " * 11 + "15.00\n"


def test_decoder_refuses_what_it_does_not_know() -> None:
    with pytest.raises(EscPosProtocolError, match="unknown command") as info:
        decode(b"\x1b\x7f\x00")
    assert info.value.data == b"\x1b\x7f\x00"
    with pytest.raises(EscPosProtocolError, match="cut short"):
        decode(b"\x1b\x61")
    with pytest.raises(EscPosProtocolError, match="not gb18030"):
        decode(b"\xff\xff")


def test_paper_status() -> None:
    assert decode_paper_status(0x12) == PaperStatus(near_end=False, out=False)
    assert decode_paper_status(0x1E) == PaperStatus(near_end=True, out=False)
    assert decode_paper_status(0x72) == PaperStatus(near_end=False, out=True)
    with pytest.raises(EscPosProtocolError):
        decode_paper_status(0x00)


@given(st.booleans(), st.booleans())
def test_paper_status_round_trip(near_end: bool, out: bool) -> None:
    status = PaperStatus(near_end, out)
    assert decode_paper_status(paper_status_byte(status)) == status


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60))
def test_any_text_round_trips_through_gb18030(text: str) -> None:
    job = EscPos().init().line(text).cut().build()
    items = decode(job)
    assert items[:2] == [Command("init"), Command("chinese_on")]
    assert items[-1] == Command("cut", b"\x41\x30")
    expected = "".join(" " if (ord(c) < 0x20 or ord(c) == 0x7F) and c != "\n" else c for c in text)
    assert printed_text(items) == expected + "\n"


@given(st.lists(st.sampled_from(["init", "center", "bold", "big", "text", "feed", "cut", "qr"]), max_size=20))
def test_every_job_decodes(ops: list[str]) -> None:
    job = EscPos()
    actions: dict[str, Callable[[], object]] = {
        "init": job.init, "center": lambda: job.align(Align.CENTER), "bold": job.bold,
        "big": lambda: job.size(2, 2), "text": lambda: job.line("车牌 粤B3R7K2"), "feed": job.feed,
        "cut": job.cut, "qr": lambda: job.qr("B1-20261127-0001"),
    }  # fmt: skip
    for op in ops:
        actions[op]()
    items = decode(job.build())
    assert sum(isinstance(i, Text) for i in items) == ops.count("text")


def test_a_qr_store_without_its_m_byte_is_refused() -> None:
    """Found by tests/drivers/test_codec_fuzz.py: the byte after fn 80 was dropped unread, so a job decoded and
    re-encoded to other bytes; it must be 48 ("0")."""
    assert decode(qr_function(80, b"0abc")) == [Command("qr_store", b"abc")]
    with pytest.raises(EscPosProtocolError, match='QR store without its "0"'):
        decode(qr_function(80, b"1abc"))
