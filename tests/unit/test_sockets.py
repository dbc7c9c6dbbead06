"""The look at an idle pooled connection (bot/sockets.py): quiet while the peer keeps it open,
readable once the peer sent something or closed it; also for descriptors past 1023."""

from __future__ import annotations

import os
import resource
import socket

import pytest

from bot.sockets import readable_now


def test_an_idle_connection_is_quiet_until_the_peer_writes_or_closes() -> None:
    ours, peer = socket.socketpair()
    with ours, peer:
        assert readable_now(ours.fileno()) is False
        peer.send(b"FATAL")
        assert readable_now(ours.fileno()) is True
        ours.recv(16)
        assert readable_now(ours.fileno()) is False
        peer.close()
        assert readable_now(ours.fileno()) is True  # end of file


def test_a_descriptor_past_1023_works_too() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip("the hard limit on open files is below 2048 here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    ours, peer = socket.socketpair()
    high = os.dup2(ours.fileno(), 2000)
    try:
        assert readable_now(high) is False  # select() raised ValueError here
        peer.close()
        assert readable_now(high) is True
    finally:
        os.close(high)
        ours.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
