"""JSON-RPC 2.0 messages: what the encoders put on the wire and how payloads are classified."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.errors import ProtocolError
from runtime.protocol.messages import (
    CALL,
    CallParams,
    ErrorCode,
    ErrorObject,
    Notification,
    Request,
    Response,
    decode_message,
    decode_params,
    encode_error,
    encode_notification,
    encode_request,
    encode_result,
)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
IDS = st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)


def nested_arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def as_json(raw: msgspec.Raw | None) -> Any:
    assert raw is not None
    return json.loads(bytes(raw))


# ---- the wire form -------------------------------------------------------------------------


def test_encode_request_writes_a_jsonrpc_2_request_object() -> None:
    wire = encode_request(7, CALL, {"tool": "echo", "arguments": {"x": 1}})

    assert json.loads(wire) == {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"tool": "echo", "arguments": {"x": 1}},
    }


def test_encode_notification_writes_no_id() -> None:
    assert json.loads(encode_notification("log", {"level": "info"})) == {
        "jsonrpc": "2.0",
        "method": "log",
        "params": {"level": "info"},
    }


def test_encode_result_writes_the_result_member_only() -> None:
    assert json.loads(encode_result(3, [1, 2])) == {"jsonrpc": "2.0", "id": 3, "result": [1, 2]}


def test_encode_error_omits_data_when_there_is_none() -> None:
    assert json.loads(encode_error(4, ErrorCode.TOOL_NOT_FOUND, "no such tool")) == {
        "jsonrpc": "2.0",
        "id": 4,
        "error": {"code": -32001, "message": "no such tool"},
    }


def test_encode_params_from_a_struct_as_an_object() -> None:
    wire = encode_request(1, CALL, CallParams(tool="t", arguments={"a": [1]}))

    assert json.loads(wire)["params"] == {"tool": "t", "arguments": {"a": [1]}}


def test_encode_result_refuses_values_json_cannot_carry() -> None:
    with pytest.raises(TypeError):
        encode_result(1, {"when": object()})


# ---- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("request_id", [0, 42, -1, 2**63 - 1, "abc", ""])
def test_request_round_trips_with_its_id_method_and_params(request_id: int | str) -> None:
    message = decode_message(encode_request(request_id, "health", {"deep": {"x": [1, None]}}))

    assert isinstance(message, Request)
    assert (message.id, message.method) == (request_id, "health")
    assert as_json(message.params) == {"deep": {"x": [1, None]}}


def test_request_without_params_gets_an_empty_object() -> None:
    message = decode_message(b'{"jsonrpc": "2.0", "id": 1, "method": "health"}')

    assert isinstance(message, Request)
    assert as_json(message.params) == {}


def test_notification_round_trips_with_method_and_params() -> None:
    message = decode_message(encode_notification("progress", {"request_id": 9, "progress": 0.5}))

    assert isinstance(message, Notification)
    assert message.method == "progress"
    assert as_json(message.params) == {"request_id": 9, "progress": 0.5}


def test_method_with_null_id_is_a_notification() -> None:
    message = decode_message(b'{"jsonrpc": "2.0", "id": null, "method": "cancel"}')

    assert isinstance(message, Notification)


def test_success_response_round_trips_with_a_raw_result() -> None:
    message = decode_message(encode_result("req-1", {"rows": [1, 2, 3]}))

    assert isinstance(message, Response)
    assert (message.id, message.error) == ("req-1", None)
    assert as_json(message.result) == {"rows": [1, 2, 3]}


def test_null_result_is_a_success_not_a_missing_result() -> None:
    message = decode_message(encode_result(5, None))

    assert isinstance(message, Response)
    assert message.error is None
    assert as_json(message.result) is None


def test_error_response_round_trips_with_code_message_and_data() -> None:
    wire = encode_error(8, ErrorCode.TOOL_FAILED, "boom", {"type": "ValueError"})

    message = decode_message(wire)

    assert isinstance(message, Response)
    assert message.id == 8
    assert message.result is None
    assert message.error == ErrorObject(-32000, "boom", {"type": "ValueError"})


def test_error_response_may_have_a_null_id() -> None:
    message = decode_message(encode_error(None, ErrorCode.PARSE_ERROR, "bad frame"))

    assert isinstance(message, Response)
    assert message.id is None
    assert message.error is not None
    assert message.error.code == ErrorCode.PARSE_ERROR


def test_unknown_members_are_ignored() -> None:
    message = decode_message(b'{"jsonrpc": "2.0", "id": 1, "result": 2, "meta": {"x": 1}}')

    assert isinstance(message, Response)
    assert as_json(message.result) == 2


@given(IDS, st.text(min_size=1, max_size=30), JSON_VALUES)
def test_any_request_round_trips(request_id: int | str, method: str, params: Any) -> None:
    message = decode_message(encode_request(request_id, method, params))

    assert isinstance(message, Request)
    assert (message.id, message.method) == (request_id, method)
    assert as_json(message.params) == params


@given(IDS, JSON_VALUES)
def test_any_result_round_trips(request_id: int | str, result: Any) -> None:
    message = decode_message(encode_result(request_id, result))

    assert isinstance(message, Response)
    assert (message.id, message.error) == (request_id, None)
    assert as_json(message.result) == result


# ---- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(b"", "frame is not a JSON-RPC object", id="empty"),
        pytest.param(
            b"{not json", "frame is not a JSON-RPC object: JSON is malformed", id="syntax"
        ),
        pytest.param(b"\xff\xfe{}", "frame is not a JSON-RPC object", id="not-utf8"),
        pytest.param(b"[1, 2]", "Expected `object`, got `array`", id="array"),
        pytest.param(b'"2.0"', "Expected `object`, got `str`", id="string"),
        pytest.param(b'{"jsonrpc": "2.0", "id": 1} {}', "trailing characters", id="trailing"),
        pytest.param(
            b'{"id": 1, "result": 1}', "'jsonrpc' must be \"2.0\", got ''", id="no-version"
        ),
        pytest.param(
            b'{"jsonrpc": "1.0", "id": 1, "result": 1}',
            "'jsonrpc' must be \"2.0\", got '1.0'",
            id="version-1.0",
        ),
        pytest.param(
            b'{"jsonrpc": 2.0, "id": 1, "result": 1}',
            "Expected `str`, got `float` - at `$.jsonrpc`",
            id="version-number",
        ),
        pytest.param(b'{"jsonrpc": "2.0", "id": true, "method": "m"}', "at `$.id`", id="id-bool"),
        pytest.param(b'{"jsonrpc": "2.0", "id": 1.5, "method": "m"}', "at `$.id`", id="id-float"),
        pytest.param(b'{"jsonrpc": "2.0", "id": [1], "method": "m"}', "at `$.id`", id="id-array"),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 1, "method": 5}', "at `$.method`", id="method-number"
        ),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 1}',
            "a response needs exactly one of 'result' and 'error'",
            id="neither-result-nor-error",
        ),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 1, "result": 1, "error": {"code": 1, "message": "m"}}',
            "a response needs exactly one of 'result' and 'error'",
            id="result-and-error",
        ),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 1, "method": "m", "result": 1}',
            "message for method 'm' also has result or error",
            id="method-with-result",
        ),
        pytest.param(
            b'{"jsonrpc": "2.0", "method": "m", "error": {"code": 1, "message": "x"}}',
            "message for method 'm' also has result or error",
            id="method-with-error",
        ),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 1, "error": {"code": 1}}',
            "missing required field `message` - at `$.error`",
            id="error-without-message",
        ),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 1, "error": {"code": "x", "message": "m"}}',
            "at `$.error.code`",
            id="error-code-string",
        ),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 1, "error": "boom"}',
            "at `$.error`",
            id="error-not-object",
        ),
        pytest.param(
            b'{"jsonrpc": "2.0", "method": "m", "params": ' + nested_arrays(100_000) + b"}",
            "frame is not a JSON-RPC object",
            id="params-nested-too-deep",
        ),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 1, "result": ' + nested_arrays(100_000) + b"}",
            "frame is not a JSON-RPC object",
            id="result-nested-too-deep",
        ),
    ],
)
def test_malformed_message_is_a_protocol_error_saying_what_is_wrong(
    payload: bytes, expected: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_message(payload)

    assert expected in str(caught.value)
    assert caught.value.plugin is None


@given(st.binary(max_size=300))
def test_random_bytes_decode_or_raise_only_protocol_error(payload: bytes) -> None:
    try:
        message = decode_message(payload)
    except ProtocolError:
        return
    assert isinstance(message, Request | Notification | Response)


@given(
    st.dictionaries(
        st.sampled_from(["jsonrpc", "id", "method", "params", "result", "error"]), JSON_VALUES
    )
)
def test_random_json_objects_decode_or_raise_only_protocol_error(fields: dict[str, Any]) -> None:
    try:
        message = decode_message(json.dumps(fields).encode())
    except ProtocolError:
        return
    assert fields["jsonrpc"] == "2.0"
    assert isinstance(message, Request | Notification | Response)


# ---- typed params --------------------------------------------------------------------------


def test_decode_params_builds_the_typed_struct() -> None:
    request = decode_message(encode_request(1, CALL, {"tool": "echo", "arguments": {"a": 1}}))
    assert isinstance(request, Request)

    assert decode_params(request.params, CallParams) == CallParams("echo", {"a": 1})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b'{"tool": "echo"}', "missing required field `arguments`", id="missing"),
        pytest.param(b'{"tool": 1, "arguments": {}}', "at `$.tool`", id="wrong-type"),
        pytest.param(b"[]", "Expected `object`, got `array`", id="not-object"),
        pytest.param(b'{"tool": "\xff", "arguments": {}}', "bad CallParams", id="not-utf8"),
        pytest.param(
            b'{"tool": "t", "arguments": {"a": ' + nested_arrays(100_000) + b"}}",
            "bad CallParams",
            id="nested-too-deep",
        ),
    ],
)
def test_bad_params_are_a_protocol_error_naming_the_struct(raw: bytes, expected: str) -> None:
    with pytest.raises(ProtocolError, match=r"^bad CallParams: ") as caught:
        decode_params(msgspec.Raw(raw), CallParams)

    assert expected in str(caught.value)
