"""Generated bad input against the Resque clone (hypothesis): malformed payloads interleaved with
good jobs into one real worker on real Redis, and generated paths and parameters against
resque-web with malformed data present.

Worker: every good job runs; the worker survives every example (same pid, never restarted); every
bad payload is accounted for by a classifier that matches it to its failure record (the record
holds the parsed payload, or the raw text with invalid bytes escaped) and counts by category.
Dashboard: no 500, no traceback in a body. Small by default (seconds); `-m fuzz` runs the large
version (10,000 payloads across the two worker modes, 300 requests) and prints its counts."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from resque_web_bad import seed

from comparisons.resque_clone.web import create_app

QUEUE = "fuzz"
_good_ids = iter(range(10**9))

# -- payloads -----------------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=10)
unknown_class = st.text(min_size=1, max_size=30).map(lambda s: "Unknown" + s)


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


CATEGORIES: dict[str, st.SearchStrategy[bytes]] = {
    "random bytes": st.binary(max_size=300),
    "invalid utf-8": st.tuples(st.binary(max_size=20), st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80"])).map(
        lambda t: b'{"class":"Echo","args":["' + t[0].replace(b'"', b"") + t[1] + b'"]}'),
    "truncated json": st.tuples(json_values, st.integers(min_value=1, max_value=60)).map(
        lambda t: dumps({"class": "Echo", "args": [t[0]]})[: -t[1]] or b"{"),
    "nan or infinity": st.sampled_from(["NaN", "Infinity", "-Infinity"]).flatmap(
        lambda c: st.sampled_from([f'{{"class":{c},"args":[]}}', f'{{"class":"Echo","args":[{c}]}}',
                                   f'{{"class":"X","args":[],"retry":{c}}}', c]).map(str.encode)),
    "class not a string": st.tuples(st.one_of(st.integers(), st.floats(allow_nan=False), st.none(),
                                              st.lists(st.integers(), max_size=3), st.booleans()), json_values).map(
        lambda t: dumps({"class": t[0], "args": [t[1]]})),
    "args not a list": st.tuples(unknown_class, st.one_of(json_scalars, st.dictionaries(st.text(max_size=5), json_scalars))).map(
        lambda t: dumps({"class": "Echo", "args": t[1]})),
    "missing class": st.lists(json_values, max_size=3).map(lambda a: dumps({"args": a})),
    "not an object": json_values.filter(lambda v: not isinstance(v, dict)).map(dumps),
    "unknown class, extra fields": st.tuples(unknown_class, st.lists(json_values, max_size=3),
                                            st.dictionaries(st.text(max_size=8), json_values, max_size=3)).map(
        lambda t: dumps({**t[2], "class": t[0], "args": t[1]})),
    "odd unicode": st.sampled_from(["\\ud800", "\\udfff", "\\u0000", "\\u202e", "\\uffff", "\\ud83d\\ude00", "\\u0007"]).flatmap(
        lambda u: st.sampled_from([f'{{"class":"Ec{u}ho","args":[]}}', f'{{"class":"Echo{u}","args":["{u}"]}}',
                                   f'{{"class":"Unknown","args":["{u}"],"backtrace":["{u}"]}}']).map(str.encode)),
    "deep nesting": st.one_of(st.integers(min_value=1, max_value=40), st.integers(min_value=3000, max_value=100_000)).flatmap(
        lambda d: st.sampled_from([nested(d), b'{"class":"Unknown","args":' + nested(d) + b"}"])),
    "odd retry / backtrace": st.tuples(json_values, json_values).map(
        lambda t: dumps({"class": "Unknown", "args": [], "retry": t[0], "backtrace": t[1], "retry_count": t[1]})),
}
HUGE = {"1 MB value": st.sampled_from([b'{"class":"' + b"A" * 1_000_000 + b'","args":[]}',
                                       b'{"class":"Echo","args":["' + b"x" * 1_000_000 + b'"],"z":']).map(bytes)}


def labelled(categories: dict[str, st.SearchStrategy[bytes]]) -> st.SearchStrategy[tuple[str, bytes]]:
    return st.one_of(*[s.map(lambda raw, name=name: (name, raw)) for name, s in categories.items()])


def is_good(raw: bytes) -> bool:
    """Would a payload generated as bad actually run Echo? (A generator can hit a valid job.)"""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse)
        json.dumps(value).encode("utf-8")
    except (ValueError, RecursionError, UnicodeError):
        return False
    return isinstance(value, dict) and value.get("class") == "Echo" and isinstance(value.get("args"), list)


def _refuse(name: str) -> Any:
    raise ValueError(name)


def record_key(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=True)


def expected_key(raw: bytes) -> str:
    """The failure record's payload for `raw`: the parsed value when it is standard JSON that can
    be written back; otherwise the raw text, invalid UTF-8 escaped as \\xNN."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return record_key(raw.decode("utf-8", errors="backslashreplace"))
    try:
        value = json.loads(text, parse_constant=_refuse)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeError):
        return record_key(text)
    return record_key(value)


def good_ran(run_dir: Any) -> set[int]:
    """Ids of the good jobs that ran, from complete lines only (a forked child may be writing
    the last one while we read)."""
    path = run_dir / "events.jsonl"
    lines = path.read_text().split("\n")[:-1] if path.exists() else []
    found = (json.loads(line) for line in lines if line.strip())
    return {e["args"][1] for e in found if e["event"] == "echo" and e["args"][:1] == ["good"]}


class Tally:
    def __init__(self) -> None:
        self.bad: Counter[str] = Counter()
        self.exceptions: Counter[str] = Counter()
        self.good = 0
        self.examples = 0


def run_batch(batch: list[tuple[str, bytes]], worker: Any, redis_client: Any, run_dir: Any, tally: Tally) -> None:
    before = redis_client.llen("resque:failed")
    bad = [(name, raw) for name, raw in batch if not is_good(raw)]
    good_ids = [next(_good_ids) for _ in range(max(1, len(batch) // 10))]
    pushes: list[bytes] = []
    for i, (_, raw) in enumerate(bad):
        pushes.append(raw)
        if i % 10 == 0 and good_ids[i // 10:]:
            pushes.append(json.dumps({"class": "Echo", "args": ["good", good_ids[i // 10]]}).encode())
    for gid in good_ids[(len(bad) + 9) // 10:]:
        pushes.append(json.dumps({"class": "Echo", "args": ["good", gid]}).encode())
    redis_client.rpush(f"resque:queue:{QUEUE}", *pushes)
    deadline = time.monotonic() + 60 + len(pushes) * 0.2
    want = set(good_ids)
    while True:
        ran = good_ran(run_dir)
        if want <= ran and redis_client.llen("resque:failed") >= before + len(bad) \
                and redis_client.llen(f"resque:queue:{QUEUE}") == 0 and not redis_client.keys("resque:worker:*:*:fuzz"):
            break
        assert worker.proc.poll() is None, f"the worker died:\n{worker.output()[-3000:]}"
        assert time.monotonic() < deadline, f"good jobs missing: {sorted(want - ran)[:10]}"
        time.sleep(0.05)
    records = [json.loads(r) for r in redis_client.lrange("resque:failed", before, -1)]  # valid JSON
    assert Counter(record_key(r["payload"]) for r in records) == Counter(expected_key(raw) for _, raw in bad)
    for r in records:
        assert r["exception"] in ("InvalidPayload", "NameError"), r
        assert r["error"] and r["queue"] == QUEUE
    assert int(redis_client.get("resque:stat:failed")) == before + len(bad)
    assert worker.proc.poll() is None
    tally.bad.update(name for name, _ in bad)
    tally.exceptions.update(r["exception"] for r in records)
    tally.good += len(good_ids)
    tally.examples += 1


def fuzz_worker(resque_worker: Any, redis_client: Any, run_dir: Any, fork: bool, examples: int,
                batch_size: int, huge: bool, min_batch: int = 1) -> Tally:
    worker = resque_worker("--queue", QUEUE, "--interval", "0.02", env={} if fork else {"FORK_PER_JOB": "false"})
    pid, tally = worker.pid, Tally()
    categories = {**CATEGORIES, **(HUGE if huge else {})}

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(labelled(categories), min_size=min_batch, max_size=batch_size))
    def check(batch: list[tuple[str, bytes]]) -> None:
        run_batch(batch, worker, redis_client, run_dir, tally)

    check()
    assert worker.proc.poll() is None and worker.pid == pid
    assert [w.decode().split(":")[1] for w in redis_client.smembers("resque:workers")] == [str(pid)]
    assert "Traceback" not in worker.output()
    return tally


def report(title: str, tally: Tally) -> None:
    print(f"\n{title}: {tally.examples} examples, {sum(tally.bad.values())} bad payloads, {tally.good} good jobs "
          f"(all ran), 0 worker deaths, 0 unaccounted; by category {dict(sorted(tally.bad.items()))}; "
          f"records by exception {dict(tally.exceptions)}")


@pytest.mark.parametrize("fork", [True, False], ids=["fork", "no-fork"])
def test_generated_bad_payloads_never_kill_the_worker_nor_vanish(fork, resque_worker, redis_client, run_dir):
    tally = fuzz_worker(resque_worker, redis_client, run_dir, fork, examples=4, batch_size=15, huge=False)
    assert tally.examples == 4 and tally.good >= 4


@pytest.mark.fuzz
@pytest.mark.timeout(3000)
@pytest.mark.parametrize("fork", [True, False], ids=["fork", "no-fork"])
def test_large_fuzz_of_the_worker(fork, resque_worker, redis_client, run_dir):
    tally = fuzz_worker(resque_worker, redis_client, run_dir, fork, examples=120, batch_size=60, huge=True,
                        min_batch=40)
    report(f"resque clone worker ({'fork' if fork else 'no fork'})", tally)
    assert sum(tally.bad.values()) >= 4000 and tally.good >= 100


# -- the dashboard ------------------------------------------------------------------------------

segment = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.sampled_from(["bad", "q" * 5000, "failed", "..", "%", "nan", "NaN-x", "-1", str(2**64), "queue:bad",
                     "delayed_queue_schedule", "workers:heartbeat", "failed", "stat:processed", "\u202e", "a/b"]),
)
number = st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str),
                   st.sampled_from(["nan", "NaN", "inf", "-0", "1e99", "0x10", " 1", "", "１２"]),
                   st.text(max_size=10))
ROUTES = ["/overview", "/overview.poll", "/working", "/failed", "/queues", "/queues/{}", "/delayed", "/workers",
          "/stats/{}", "/stats/keys/{}", "/{}", "/failed/{}/retry", "/failed/{}/remove", "/queues/{}/remove"]


@st.composite
def requests(draw: Any) -> tuple[str, str, str]:
    route = draw(st.sampled_from(ROUTES))
    path = route.format(quote(draw(segment), safe=""))
    params = draw(st.dictionaries(st.sampled_from(["start", "class", "next", "digest"]), number, max_size=3))
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    method = "POST" if route.endswith(("retry", "remove")) or draw(st.booleans()) and route.startswith("/delayed") else "GET"
    return method, path, query


def fuzz_web(redis_url: str, redis_client: Any, examples: int, malformed: bool = True) -> Counter[int]:
    if malformed:
        seed(redis_client)
    client = create_app(redis_url).test_client()
    statuses: Counter[int] = Counter()

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(requests())
    def check(request: tuple[str, str, str]) -> None:
        method, path, query = request
        response = client.open(path, method=method, query_string=query)
        body = response.get_data(as_text=True)
        statuses[response.status_code] += 1
        assert response.status_code < 500, (method, path[:200], query[:200], body[-1500:])
        assert "Traceback" not in body

    check()
    return statuses


@pytest.mark.parametrize("malformed", [True, False], ids=["malformed-data", "clean-data"])
def test_generated_requests_never_get_a_500(redis_url, redis_client, malformed):
    statuses = fuzz_web(redis_url, redis_client, examples=60, malformed=malformed)
    assert sum(statuses.values()) >= 60 and not any(math.floor(s / 100) == 5 for s in statuses)


@pytest.mark.fuzz
@pytest.mark.parametrize("malformed", [True, False], ids=["malformed-data", "clean-data"])
def test_large_fuzz_of_the_dashboard(redis_url, redis_client, malformed):
    statuses = fuzz_web(redis_url, redis_client, examples=300, malformed=malformed)
    data = "with malformed data present" if malformed else "on clean data"
    print(f"\nresque-web: {sum(statuses.values())} requests {data}, statuses {dict(statuses)}")
    assert not any(s >= 500 for s in statuses)
