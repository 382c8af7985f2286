"""The length-prefix codec, driven with plain bytes: no streams, no event loop."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.errors import FrameTooLargeError, ProtocolError
from runtime.protocol.framing import DEFAULT_MAX_FRAME_SIZE, FrameDecoder, encode_frame

# Small enough that random input regularly announces frames over the limit.
SMALL_LIMIT = 64


def header(size: int) -> bytes:
    return size.to_bytes(4, "big")


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (in any order, repeats allowed)."""
    bounds = [0, *sorted(cuts), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> list[bytes]:
    frames: list[bytes] = []
    for chunk in chunks:
        frames.extend(decoder.feed(chunk))
    return frames


# ---- encode_frame -------------------------------------------------------------------------


def test_encode_frame_prefixes_payload_with_its_big_endian_length() -> None:
    payload = bytes(range(256)) * 2 + b"tail"

    assert encode_frame(payload) == b"\x00\x00\x02\x04" + payload


def test_encode_frame_of_empty_payload_is_a_bare_zero_header() -> None:
    assert encode_frame(b"") == b"\x00\x00\x00\x00"


def test_encode_frame_accepts_payload_exactly_at_the_limit() -> None:
    assert encode_frame(b"x" * SMALL_LIMIT, SMALL_LIMIT) == header(SMALL_LIMIT) + b"x" * SMALL_LIMIT


def test_encode_frame_refuses_payload_the_peer_would_reject() -> None:
    with pytest.raises(FrameTooLargeError) as caught:
        encode_frame(b"x" * (SMALL_LIMIT + 1), SMALL_LIMIT)

    assert (caught.value.size, caught.value.limit) == (SMALL_LIMIT + 1, SMALL_LIMIT)
    assert f"{SMALL_LIMIT + 1} bytes" in str(caught.value)


# ---- FrameDecoder: whole and partial frames ------------------------------------------------


def test_decoder_returns_every_complete_frame_of_one_feed_in_order() -> None:
    decoder = FrameDecoder()

    frames = decoder.feed(encode_frame(b"one") + encode_frame(b"two") + encode_frame(b"three"))

    assert frames == [b"one", b"two", b"three"]
    assert decoder.buffered == 0


def test_decoder_holds_a_partial_frame_until_the_rest_arrives() -> None:
    decoder = FrameDecoder()
    wire = encode_frame(b"hello world")

    assert decoder.feed(wire[:7]) == []
    assert decoder.buffered == 7
    assert decoder.feed(wire[7:]) == [b"hello world"]
    assert decoder.buffered == 0


def test_decoder_keeps_the_start_of_the_next_frame_after_a_complete_one() -> None:
    decoder = FrameDecoder()
    second = encode_frame(b"second")

    assert decoder.feed(encode_frame(b"first") + second[:5]) == [b"first"]
    assert decoder.buffered == 5
    assert decoder.feed(second[5:]) == [b"second"]


def test_zero_length_frames_decode_as_empty_payloads() -> None:
    decoder = FrameDecoder()

    frames = decoder.feed(header(0) + header(0) + encode_frame(b"x") + header(0))

    assert frames == [b"", b"", b"x", b""]
    decoder.eof()


def test_frames_split_at_every_byte_boundary_decode_the_same() -> None:
    payloads = [b"", b"a", b"\x00\x00\x00\x01", b"x" * 300, b""]
    wire = b"".join(encode_frame(p) for p in payloads)

    for cut in range(len(wire) + 1):
        decoder = FrameDecoder()
        assert feed_all(decoder, [wire[:cut], wire[cut:]]) == payloads, f"cut at byte {cut}"
        decoder.eof()


def test_frames_fed_one_byte_at_a_time_decode_the_same() -> None:
    payloads = [b"alpha", b"", b"beta" * 70]
    wire = b"".join(encode_frame(p) for p in payloads)
    decoder = FrameDecoder()

    assert feed_all(decoder, [wire[i : i + 1] for i in range(len(wire))]) == payloads


def test_feeding_nothing_returns_nothing() -> None:
    decoder = FrameDecoder()

    assert decoder.feed(b"") == []
    assert decoder.buffered == 0


# ---- FrameDecoder: the size limit ----------------------------------------------------------


def test_frame_exactly_at_the_limit_is_accepted() -> None:
    decoder = FrameDecoder(SMALL_LIMIT)

    assert decoder.feed(header(SMALL_LIMIT) + b"y" * SMALL_LIMIT) == [b"y" * SMALL_LIMIT]


def test_oversized_length_header_is_refused_before_any_payload_arrives() -> None:
    decoder = FrameDecoder(SMALL_LIMIT)

    with pytest.raises(FrameTooLargeError) as caught:
        decoder.feed(header(SMALL_LIMIT + 1))

    assert (caught.value.size, caught.value.limit) == (SMALL_LIMIT + 1, SMALL_LIMIT)
    assert decoder.buffered == 0


def test_four_gib_header_costs_only_the_error() -> None:
    decoder = FrameDecoder()

    with pytest.raises(FrameTooLargeError) as caught:
        decoder.feed(b"\xff\xff\xff\xff" + b"a little payload")

    assert caught.value.size == 2**32 - 1
    assert caught.value.limit == DEFAULT_MAX_FRAME_SIZE
    assert decoder.buffered == 0


def test_oversized_header_split_across_feeds_is_refused_when_its_last_byte_arrives() -> None:
    decoder = FrameDecoder(SMALL_LIMIT)
    bad = header(SMALL_LIMIT * 1000)

    assert decoder.feed(bad[:3]) == []
    with pytest.raises(FrameTooLargeError):
        decoder.feed(bad[3:])


def test_default_limit_accepts_a_header_at_the_limit_and_refuses_one_byte_more() -> None:
    assert FrameDecoder().feed(header(DEFAULT_MAX_FRAME_SIZE)) == []
    with pytest.raises(FrameTooLargeError):
        FrameDecoder().feed(header(DEFAULT_MAX_FRAME_SIZE + 1))


def test_decoder_stays_broken_after_a_protocol_error() -> None:
    decoder = FrameDecoder(SMALL_LIMIT)
    with pytest.raises(FrameTooLargeError):
        decoder.feed(header(SMALL_LIMIT + 1))

    with pytest.raises(FrameTooLargeError):
        decoder.feed(encode_frame(b"valid"))
    with pytest.raises(FrameTooLargeError):
        decoder.eof()


@pytest.mark.parametrize("limit", [0, -1])
def test_decoder_limit_must_be_positive(limit: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        FrameDecoder(limit)


# ---- FrameDecoder: end of stream -----------------------------------------------------------


def test_eof_on_a_frame_boundary_is_clean() -> None:
    decoder = FrameDecoder()
    decoder.feed(encode_frame(b"done"))

    decoder.eof()


def test_eof_before_any_data_is_clean() -> None:
    FrameDecoder().eof()


def test_eof_inside_a_length_header_is_a_protocol_error() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x00\x00")

    with pytest.raises(ProtocolError, match=r"ended inside a frame \(2 bytes"):
        decoder.eof()


def test_eof_inside_a_payload_is_a_protocol_error() -> None:
    decoder = FrameDecoder()
    decoder.feed(encode_frame(b"truncated")[:-3])

    with pytest.raises(ProtocolError, match=r"ended inside a frame \(10 bytes"):
        decoder.eof()


def test_eof_right_after_a_nonzero_header_is_a_protocol_error() -> None:
    decoder = FrameDecoder()
    decoder.feed(header(5))

    with pytest.raises(ProtocolError, match="ended inside a frame"):
        decoder.eof()


# ---- properties ----------------------------------------------------------------------------


@given(st.data(), st.binary(max_size=600))
def test_random_bytes_in_random_chunks_fail_only_with_protocol_errors(
    data: st.DataObject, garbage: bytes
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(garbage)), max_size=20))
    decoder = FrameDecoder(SMALL_LIMIT)
    frames: list[bytes] = []
    error: ProtocolError | None = None
    try:
        frames = feed_all(decoder, split_at(garbage, cuts))
        decoder.eof()
    except ProtocolError as exc:
        error = exc

    assert all(len(frame) <= SMALL_LIMIT for frame in frames)
    if isinstance(error, FrameTooLargeError):
        assert error.size > error.limit == SMALL_LIMIT


@given(st.data(), st.binary(max_size=600))
def test_chunking_never_changes_what_random_bytes_decode_to(
    data: st.DataObject, garbage: bytes
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(garbage)), max_size=20))

    def outcome(chunks: list[bytes]) -> list[bytes] | type[ProtocolError]:
        decoder = FrameDecoder(SMALL_LIMIT)
        try:
            return feed_all(decoder, chunks)
        except ProtocolError as exc:
            return type(exc)

    assert outcome(split_at(garbage, cuts)) == outcome([garbage])


@given(st.data(), st.lists(st.binary(max_size=SMALL_LIMIT), max_size=12))
def test_valid_frame_sequences_round_trip_under_any_chunking(
    data: st.DataObject, payloads: list[bytes]
) -> None:
    wire = b"".join(encode_frame(p, SMALL_LIMIT) for p in payloads)
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=30))
    decoder = FrameDecoder(SMALL_LIMIT)
    frames: list[bytes] = []
    fed = 0
    for chunk in split_at(wire, cuts):
        frames.extend(decoder.feed(chunk))
        fed += len(chunk)
        assert decoder.buffered == fed - sum(len(encode_frame(f)) for f in frames)

    assert frames == payloads
    decoder.eof()
