"""The worker's batched per-job commands (batch.py): in order, errors that
leave the connection usable, a forked child on its own connection."""

from __future__ import annotations

import os

import pytest
import redis

from comparisons.resque_clone.batch import Batch


def test_commands_sent_together_run_in_order(redis_client):
    redis_client.rpush("q", b"job1", b"job2")
    replies = Batch(redis_client).send(
        ("DEL", "w"), ("INCRBY", "s", "1"), ("LPOP", "q"), ("LPOP", "q"), ("LPOP", "q"))
    assert replies == [0, 1, b"job1", b"job2", None]


def test_an_error_reply_raises_after_every_command_ran(redis_client):
    redis_client.set("text", "x")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        Batch(redis_client).send(("INCRBY", "text", "1"), ("SET", "after", "1"))
    assert redis_client.get("after") == b"1"
    assert Batch(redis_client).send(("GET", "after")) == [b"1"]


def test_a_forked_child_uses_its_own_connection(redis_client):
    batch = Batch(redis_client)
    parent_id = batch.send(("CLIENT", "ID"))[0]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.write(write_end, str(batch.send(("CLIENT", "ID"))[0]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    child_id = int(os.read(read_end, 64))
    os.close(read_end)
    assert os.WEXITSTATUS(status) == 0
    assert child_id != parent_id
    assert batch.send(("CLIENT", "ID")) == [parent_id]


def test_a_lost_connection_raises_and_the_next_send_connects_again(redis_client):
    batch = Batch(redis_client)
    first_id = batch.send(("CLIENT", "ID"))[0]
    redis_client.client_kill_filter(_id=first_id)
    with pytest.raises(redis.ConnectionError):
        batch.send(("CLIENT", "ID"))
    second_id = batch.send(("CLIENT", "ID"))[0]
    assert second_id != first_id


def test_close_returns_the_connection_to_the_pool(redis_client):
    batch = Batch(redis_client)
    batch.send(("PING",))
    held = batch.connection
    batch.close()
    assert batch.connection is None
    assert redis_client.connection_pool.get_connection() is held
