"""The worker's lean RESP client (fastpath.py): same replies as redis-py, one round trip for many
commands, errors that leave the connection usable, reconnection, a child's own socket."""

from __future__ import annotations

import os

import pytest
import redis

from comparisons.resque_clone import fastpath


@pytest.fixture
def fast(redis_client):
    client = fastpath.for_client(redis_client)
    assert isinstance(client, fastpath.FastPath)
    yield client
    client.close()


def test_replies_are_bytes_integers_none_and_status_text(fast, redis_client):
    value = b'{"a":"\xc3\xa9\\r\\n"}\r\nmore'  # binary-safe: CRLF inside a value
    assert fast.send(("SET", "k", value), ("GET", "k"), ("INCRBY", "n", "1"), ("LPOP", "none")) == [
        "OK", value, 1, None]
    assert redis_client.get("k") == value


def test_commands_sent_together_run_in_order(fast, redis_client):
    redis_client.rpush("q", b"job1", b"job2")
    assert fast.send(("DEL", "w"), ("INCRBY", "s", "1"), ("LPOP", "q"), ("LPOP", "q")) == [
        0, 1, b"job1", b"job2"]


def test_an_error_reply_raises_after_every_reply_was_read(fast, redis_client):
    redis_client.set("text", "x")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        fast.send(("INCRBY", "text", "1"), ("SET", "after", "1"))
    assert redis_client.get("after") == b"1"  # the command after the error ran
    assert fast.send(("GET", "after")) == [b"1"]  # and the connection is still in step


def test_a_dropped_connection_raises_connection_error_then_reconnects(fast, redis_client):
    fast.send(("SET", "k", "1"))
    redis_client.client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(redis.ConnectionError):
        fast.send(("GET", "k"))
    assert fast.send(("GET", "k")) == [b"1"]


def test_a_non_default_database_is_selected(redis_url):
    other = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/7")
    client = fastpath.for_client(other)
    try:
        client.send(("SET", "db7-key", "1"))
        assert other.get("db7-key") == b"1"
        assert redis.Redis.from_url(redis_url).get("db7-key") is None
    finally:
        client.close()
        other.flushdb()
        other.close()


def test_a_forked_child_opens_its_own_connection(fast):
    parent_id = fast.send(("CLIENT", "ID"))[0]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.write(write_end, str(fast.send(("CLIENT", "ID"))[0]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    child_id = int(os.read(read_end, 64))
    os.close(read_end)
    assert os.WEXITSTATUS(status) == 0
    assert child_id != parent_id
    assert fast.send(("CLIENT", "ID")) == [parent_id]  # the parent's socket was left alone


def test_a_client_that_is_not_plain_tcp_goes_through_a_redis_py_pipeline(redis_client):
    unix = redis.Redis(unix_socket_path="/nonexistent.sock")
    assert isinstance(fastpath.for_client(unix), fastpath.PipelinePath)
    via_pipeline = fastpath.PipelinePath(redis_client)
    assert via_pipeline.send(("SET", "k", "v"), ("INCRBY", "n", "1"), ("LPOP", "none")) == [
        True, 1, None]
