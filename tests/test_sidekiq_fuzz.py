"""Generated bad input against the Sidekiq clone (hypothesis): malformed payloads interleaved
with good jobs into a real clone worker on real Redis, bad members of `schedule` / `retry`
under a real poller, and odd paths and parameters against the dashboard with malformed data
present.

What must hold: every good job runs; no thread dies (the worker's log has no "thread died",
no uncaught thread exception, no internal error); every bad payload is accounted for by
classify() reading the dead and retry sets (a dead wrapper holding its bytes, or its jid in
retry / dead, or dropped where Sidekiq drops: no retry); stat:failed counts each once; the
dashboard never answers 500 nor shows a traceback.

Small by default (seconds). `-m fuzz` runs the large versions (10,000 payloads in batches
of 20, 300 requests)
and prints the counts by category and outcome.
"""

from __future__ import annotations

import base64
import collections
import itertools
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sidekiq_jobs import (  # noqa: F401 - sidekiq_server_fixture provides sidekiq_server
    events,
    sidekiq_server_fixture,
)
from system_helpers import wait_for

from comparisons.sidekiq_clone import keys
from comparisons.sidekiq_clone.client import Client
from comparisons.sidekiq_clone.web import create_app

COUNTER = itertools.count()
BIG = 1_000_000

# -- generated payloads ----------------------------------------------------------------------

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
                        st.floats(allow_nan=False, allow_infinity=False))
json_value = st.recursive(json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
odd_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["Bad\x00Name", "\ud800", "\udfff lone", "\U0001f4a3 emoji", "\u202eRTL",
                     "\ufeffBOM", "Outer::Inner", ".os.system", "_sidekiq_clone.bench.BenchNoop"]),
)


def job_text(job: dict[str, Any]) -> str:
    return json.dumps(job, allow_nan=True)


@st.composite
def base_job(draw: Any, tag: str) -> dict[str, Any]:
    """A job of an unknown class (so it never runs successfully) with a traceable jid."""
    job: dict[str, Any] = {"class": f"FuzzUnknown{tag}", "args": draw(st.lists(json_value, max_size=3)),
                           "jid": tag, "queue": "default"}
    retry = draw(st.sampled_from([True, False, 0, 2, None]))
    if retry is not None:
        job["retry"] = retry
    return job


@st.composite
def bad_payload(draw: Any) -> tuple[str, bytes]:
    """(category, payload bytes)."""
    tag = f"fz{next(COUNTER):09d}"  # fixed width: the draws never depend on the counter
    common = ["random bytes", "invalid utf-8", "truncated json", "non-standard json",
              "wrong types", "missing fields", "extra fields", "odd unicode", "deep nesting"]
    category = draw(st.sampled_from(common * 3 + ["big value"]))  # 1 MB values: 1 in 28
    job = draw(base_job(tag))
    if category == "random bytes":
        return category, draw(st.binary(max_size=200))
    if category == "invalid utf-8":
        text = job_text(job).encode()
        at = draw(st.integers(0, len(text)))
        return category, text[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"])) + text[at:]
    if category == "truncated json":
        text = job_text(job).encode()
        return category, text[:draw(st.integers(0, len(text) - 1))]
    if category == "non-standard json":
        field = draw(st.sampled_from(["class", "args", "retry", "jid"]))
        literal = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "[NaN]", "'single'", "[1,]", "0x1F"]))
        job[field] = "@@"
        return category, job_text(job).replace('"@@"', literal).encode()
    if category == "wrong types":
        field = draw(st.sampled_from(["class", "args", "jid", "retry", "retry_count", "backtrace",
                                      "queue", "created_at", "enqueued_at", "at"]))
        wrong = {"class": st.one_of(st.integers(), st.floats(), st.none(), st.just(""), st.lists(st.integers(), max_size=2),
                                    st.booleans()),
                 "args": st.one_of(st.integers(), st.text(max_size=5), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.none()),
                 "jid": st.one_of(st.integers(), st.lists(st.integers(), max_size=2), st.none()),
                 "retry": st.one_of(st.text(min_size=1, max_size=5), st.floats(), st.lists(st.integers(), max_size=1)),
                 "retry_count": st.one_of(st.text(max_size=5), st.floats(), st.none(), st.lists(st.integers(), max_size=1)),
                 "backtrace": st.one_of(st.text(max_size=5), st.floats(), st.integers(max_value=-1)),
                 "queue": st.one_of(st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2)),
                 "created_at": st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=1)),
                 "enqueued_at": st.one_of(st.text(max_size=5), st.booleans()),
                 "at": st.one_of(st.text(max_size=5), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))}[field]
        job[field] = draw(wrong)
        if field == "backtrace" or field == "retry_count":
            job["retry"] = True  # so the odd value reaches the failure bookkeeping
        return category, job_text(job).encode()
    if category == "missing fields":
        for field in draw(st.lists(st.sampled_from(["class", "args"]), min_size=1, max_size=2, unique=True)):
            del job[field]
        return category, job_text(job).encode()
    if category == "extra fields":
        job.update(draw(st.dictionaries(st.text(max_size=10).filter(lambda k: k not in job and k not in (
            "retry_count", "backtrace", "retry_queue", "at", "created_at", "enqueued_at", "dead")),
            json_value, min_size=1, max_size=5)))
        return category, job_text(job).encode()
    if category == "odd unicode":  # lone surrogates travel as JSON escapes, the rest as UTF-8
        job["class"] = "FuzzUnknown" + draw(odd_text)
        job["args"] = [draw(odd_text), {draw(odd_text): draw(odd_text)}]
        text = json.dumps(job, ensure_ascii=False)
        if any(0xD800 <= ord(c) < 0xE000 for c in text):
            text = json.dumps(job)  # \\uXXXX escapes: a lone surrogate is not UTF-8
        return category, text.encode()
    if category == "deep nesting":
        depth = draw(st.sampled_from([600, 990, 5000, 100_000]))
        text = job_text(job)
        return category, text.replace('"args": [', '"args": [' + "[" * depth, 1).replace(
            "]", "]" + "]" * depth, 1).encode() if '"args": [' in text else text.encode()
    field = draw(st.sampled_from(["class", "args"]))  # big value
    job["retry"] = draw(st.sampled_from([False, None, None, None, 0, True]))  # mostly not kept
    if field == "class":
        job["class"] = "FuzzUnknown" + "K" * BIG
    else:
        job["args"] = ["x" * BIG]
    return category, job_text(job).encode()


# -- the classifier --------------------------------------------------------------------------


def lenient(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError):
        return None


def wrapped_bytes(entry: dict[str, Any]) -> bytes | None:
    if not entry.get("malformed") or "payload" not in entry:
        return None
    if "payload_base64" in entry:
        return base64.b64decode(entry["payload_base64"])
    return str(entry["payload"]).encode("utf-8", "surrogatepass")


def sets_by(r: redis.Redis) -> tuple[set[bytes], dict[str, str]]:
    """Dead wrappers' original bytes, and jid -> "retry" / "dead" for job entries."""
    wrapped: set[bytes] = set()
    jids: dict[str, str] = {}
    for name, zset in (("dead", keys.DEAD), ("retry", keys.RETRY)):
        for raw in r.zrange(zset, 0, -1):
            entry = lenient(raw)
            if not isinstance(entry, dict):
                continue
            original = wrapped_bytes(entry)
            if original is not None:
                wrapped.add(original)
            elif isinstance(entry.get("jid"), str):
                jids[entry["jid"]] = name
    return wrapped, jids


def classify(raw: bytes, wrapped: set[bytes], jids: dict[str, str]) -> str:
    """Where a bad payload ended: "dead (invalid)", "retry", "dead", "dropped (no retry)" or
    "UNACCOUNTED"."""
    if raw in wrapped:
        return "dead (invalid)"
    job = lenient(raw)
    if isinstance(job, dict) and isinstance(job.get("jid"), str) and job["jid"] in jids:
        return jids[job["jid"]]
    if isinstance(job, dict) and job.get("retry") in (None, False):
        return "dropped (no retry)"
    return "UNACCOUNTED"


def thread_trouble(log: str) -> dict[str, int]:
    return {what: log.count(what) for what in ("thread died", "Exception in thread",
                                               "Internal error", "Internal exception",
                                               "Scheduler exiting", "Logging error")}


# -- workers ---------------------------------------------------------------------------------

TOTALS: collections.Counter[tuple[str, str]] = collections.Counter()


@pytest.fixture
def fuzz_server(sidekiq_server: Any) -> Iterator[Any]:
    # the poller waits an hour: a retried payload fails exactly once during the run
    yield sidekiq_server("-c", "4", poll=3600)


def run_batch(server: Any, r: redis.Redis, batch: list[tuple[str, bytes]]) -> None:
    client = Client(r)
    failed0 = int(r.get("stat:failed") or 0)
    processed0 = int(r.get("stat:processed") or 0)
    tokens = []
    for _, raw in batch:
        r.lpush("queue:default", raw)
        token = f"good{next(COUNTER)}"
        tokens.append(token)
        client.push({"class": "Recorder", "args": [token]})
    wait_for(lambda: {e["args"][0] for e in events(r, "ran")} >= set(tokens), 60, "every good job")
    wait_for(lambda: r.llen("queue:default") == 0, 30, "the queue to drain")
    want = processed0 + 2 * len(batch)
    wait_for(lambda: int(r.get("stat:processed") or 0) >= want, 10, "the stats flushed")
    assert int(r.get("stat:processed") or 0) == want
    assert int(r.get("stat:failed") or 0) == failed0 + len(batch)
    wrapped, jids = sets_by(r)
    outcomes = [(category, classify(raw, wrapped, jids)) for category, raw in batch]
    TOTALS.update(outcomes)
    lost = [(c, raw[:120]) for (c, raw), (_, o) in zip(batch, outcomes, strict=True) if o == "UNACCOUNTED"]
    assert not lost, lost
    assert thread_trouble(server.log_text()) == dict.fromkeys(thread_trouble(""), 0)


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(bad_payload(), min_size=8, max_size=8))
def _worker_property(fuzz_server: Any, redis_client: redis.Redis, batch: list[tuple[str, bytes]]) -> None:
    run_batch(fuzz_server, redis_client, batch)


def test_generated_bad_payloads_are_all_accounted_for(fuzz_server: Any, redis_client: redis.Redis) -> None:
    TOTALS.clear()
    _worker_property(fuzz_server, redis_client)
    print_totals("worker", TOTALS)


@pytest.mark.fuzz
@pytest.mark.timeout(1800)
def test_large_generated_bad_payloads_are_all_accounted_for(
        fuzz_server: Any, redis_client: redis.Redis) -> None:
    """10,000 payloads (500 batches of 20, each beside 20 good jobs; hypothesis generates
    lists of 100 composite payloads only very slowly)."""
    TOTALS.clear()
    large = settings(max_examples=500, deadline=None, derandomize=False, database=None,
                     suppress_health_check=list(HealthCheck))(
        given(batch=st.lists(bad_payload(), min_size=20, max_size=20))(run_batch_property))
    large(fuzz_server, redis_client)
    print_totals("worker (large)", TOTALS)
    assert sum(TOTALS.values()) == 10_000


def run_batch_property(server: Any, r: redis.Redis, batch: list[tuple[str, bytes]]) -> None:
    run_batch(server, r, batch)


def print_totals(what: str, totals: collections.Counter[tuple[str, str]]) -> None:
    print(f"\n{what}: {sum(totals.values())} bad payloads")
    for (category, outcome), n in sorted(totals.items()):
        print(f"  {category:18s} {outcome:20s} {n}")


# -- schedule / retry sets -------------------------------------------------------------------

SET_CATEGORIES = ("random bytes", "invalid utf-8", "truncated json", "non-standard json",
                  "wrong types", "missing fields")


@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=st.lists(bad_payload().filter(lambda p: p[0] in SET_CATEGORIES), min_size=6, max_size=6))
def _set_property(server: Any, r: redis.Redis, batch: list[tuple[str, bytes]]) -> None:
    dead0 = r.zcard(keys.DEAD)
    members = {raw for _, raw in batch}
    for i, raw in enumerate(members):
        r.zadd(keys.SCHEDULE if i % 2 else keys.RETRY, {raw: 1})
    wait_for(lambda: r.zcard(keys.DEAD) >= dead0 + len(members), 10, "every bad member in dead")
    wrapped, _ = sets_by(r)
    assert members <= wrapped
    token = f"later{next(COUNTER)}"
    Client(r).push({"class": "Recorder", "args": [token], "at": keys.now() + 0.1})
    wait_for(lambda: token in {e["args"][0] for e in events(r, "ran")}, 10, "the scheduled good job")
    assert thread_trouble(server.log_text()) == dict.fromkeys(thread_trouble(""), 0)


def test_generated_bad_schedule_and_retry_members_go_to_dead(
        sidekiq_server: Any, redis_client: redis.Redis) -> None:
    _set_property(sidekiq_server("-c", "2", poll=0.05), redis_client)


# -- the dashboard ---------------------------------------------------------------------------

PAGES = ["", "busy", "queues", "queues/default", "queues/broken", "retries", "scheduled",
         "morgue", "stats", "stats/queues", "dashboard.poll"]
ODD = st.one_of(st.text(max_size=40), st.integers().map(str),
                st.sampled_from(["nan", "NaN-x", "inf-x", "-1", str(2**63), str(2**64), "1e400-x",
                                 "9" * 400, "%00", "..", "\x00", "q" * 3000, "1-" + "j" * 500]))


@st.composite
def request_spec(draw: Any) -> tuple[str, str, dict[str, str], dict[str, str]]:
    method = draw(st.sampled_from(["GET", "GET", "GET", "POST"]))
    base = draw(st.sampled_from(PAGES + ["retries/{}", "morgue/{}", "scheduled/{}", "queues/{}",
                                         "retries/all/{}", "morgue/all/{}", "queues/{}/delete"]))
    path = "/" + base.format(urllib.parse.quote(draw(ODD), safe=""))
    query = draw(st.dictionaries(st.sampled_from(["start", "days", "page", "poll", "key"]), ODD, max_size=3))
    form = draw(st.dictionaries(st.sampled_from(["action", "key", "key_val", "key_b64", "identity"]),
                                st.one_of(ODD, st.sampled_from(["retry", "delete", "kill", "add_to_queue",
                                                                "quiet", "stop"])), max_size=3))
    return method, path, query, form


def add_malformed(r: redis.Redis) -> None:
    r.sadd("queues", "default", "broken", "q" * 3000, b"\xff")
    r.lpush("queue:broken", b"\xff\xfe", b"{trunc", b'{"class":NaN,"args":[]}',
            b'{"class":"A","args":' + b"[" * 5000 + b"]" * 5000 + b"}",
            b'{"class":"A","args":[],"enqueued_at":1e308}')
    for raw in (b"{bad", b'{"class":1,"args":[]}', b'{"class":"X","args":[],"jid":"j-1"}'):
        for name in (keys.RETRY, keys.SCHEDULE, keys.DEAD):
            r.zadd(name, {raw: 1_700_000_000})
    r.zadd(keys.DEAD, {b'{"class":"X","args":[],"jid":"i"}': float("inf")})
    r.set("stat:failed", "many")
    r.sadd("processes", "odd:1:x")
    r.hset("odd:1:x", mapping={"info": "[", "busy": "x", "beat": "y"})


STATUSES: collections.Counter[int] = collections.Counter()


@pytest.fixture(params=[True, False], ids=["malformed-data", "clean-data"])
def fuzz_web(request: pytest.FixtureRequest, redis_url: str, redis_client: redis.Redis) -> Any:
    if request.param:
        add_malformed(redis_client)
    app = create_app(redis_url)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


def check_request(web: Any, spec: tuple[str, str, dict[str, str], dict[str, str]]) -> None:
    method, path, query, form = spec
    if method == "GET":
        response = web.get(path, query_string=query)
    else:
        response = web.post(path, query_string=query, data=form)
    STATUSES[response.status_code] += 1
    body = response.get_data(as_text=True)
    assert response.status_code != 500 and response.status_code < 500, (spec, body[:300])
    assert "Traceback" not in body and 'File "' not in body, spec


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=request_spec())
def _web_property(web: Any, spec: tuple[str, str, dict[str, str], dict[str, str]]) -> None:
    check_request(web, spec)


def test_generated_requests_never_answer_500(fuzz_web: Any) -> None:
    _web_property(fuzz_web)


@pytest.mark.fuzz
@pytest.mark.timeout(600)
def test_large_generated_requests_never_answer_500(fuzz_web: Any) -> None:
    STATUSES.clear()
    large = settings(max_examples=300, deadline=None, derandomize=False,
                     suppress_health_check=list(HealthCheck))(given(spec=request_spec())(check_request))
    large(fuzz_web)
    print(f"\ndashboard: {sum(STATUSES.values())} requests, statuses {dict(sorted(STATUSES.items()))}")
