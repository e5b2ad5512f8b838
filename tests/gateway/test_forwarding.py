"""Tests for gateway/forwarding.py: the client address believes only as many forwarding entries as trusted hops."""

from __future__ import annotations

from tollgate.gateway.forwarding import client_address

XFF = [(b"x-forwarded-for", b"6.6.6.6, 1.2.3.4"), (b"x-forwarded-for", b"10.0.0.2")]


def test_no_trusted_hop_means_the_peer_whatever_the_headers_say() -> None:
    assert client_address("10.0.0.9", XFF, 0) == "10.0.0.9"


def test_each_trusted_hop_believes_one_more_entry_from_the_right() -> None:
    assert client_address("10.0.0.9", XFF, 1) == "10.0.0.2"
    assert client_address("10.0.0.9", XFF, 2) == "1.2.3.4"
    assert client_address("10.0.0.9", XFF, 3) == "6.6.6.6"
    assert client_address("10.0.0.9", XFF, 4) == "10.0.0.9"  # fewer entries than hops: the peer


def test_forwarded_is_preferred_and_parsed() -> None:
    headers = [
        (b"x-forwarded-for", b"9.9.9.9"),
        (b"forwarded", b'for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"'),
        (b"forwarded", b"for=198.51.100.17:8080;by=203.0.113.43"),
    ]
    assert client_address("10.0.0.9", headers, 1) == "198.51.100.17"
    assert client_address("10.0.0.9", headers, 2) == "2001:db8::1"
    assert client_address("10.0.0.9", headers, 3) == "192.0.2.60"
