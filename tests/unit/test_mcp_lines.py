"""The MCP line splitter: lines in any chunking, and oversized lines dropped, not buffered."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runtime.mcp.protocol import OVERSIZED_LINE, LineSplitter, parse_line


def _split(chunks: list[bytes], max_line: int = 64) -> list[bytes]:
    splitter = LineSplitter(max_line)
    lines = [line for chunk in chunks for line in splitter.feed(chunk)]
    return lines + splitter.close()


@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=20),
    st.integers(min_value=1, max_value=17),
)
def test_lines_come_out_whole_whatever_the_chunking(lines: list[bytes], size: int) -> None:
    data = b"".join(line + b"\n" for line in lines)
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert _split(chunks) == lines


def test_an_oversized_line_becomes_one_marker_and_the_next_line_survives() -> None:
    big = b"x" * 200
    assert _split([big[:100], big[100:] + b"\nnext\n"]) == [OVERSIZED_LINE, b"next"]
    assert _split([big + b"\n", b"after\n"]) == [OVERSIZED_LINE, b"after"]


def test_an_oversized_line_is_never_held_in_memory() -> None:
    splitter = LineSplitter(64)
    assert splitter.feed(b"y" * 100) == [OVERSIZED_LINE]
    for _ in range(1000):
        assert splitter.feed(b"y" * 1000) == []
    assert splitter.feed(b"tail\nok\n") == [b"ok"]


def test_the_marker_is_answered_as_an_invalid_request_with_null_id() -> None:
    message = parse_line(OVERSIZED_LINE)
    assert message is not None
    assert type(message).__name__ == "Invalid"
    assert message.id is None  # type: ignore[union-attr]
    assert message.error.code == -32600  # type: ignore[union-attr]
    assert "dropped" in message.error.message  # type: ignore[union-attr]
