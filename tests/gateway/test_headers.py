from tollgate.gateway.headers import header_lines


def test_header_lines_are_crlf_terminated_in_order() -> None:
    assert header_lines([(b"a", b"1"), (b"content-type", b"application/json")]) == (
        b"a: 1\r\ncontent-type: application/json\r\n"
    )


def test_no_headers_is_empty() -> None:
    assert header_lines([]) == b""
