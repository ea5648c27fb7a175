"""The worker: poll the queues, fork a child per job, wait, repeat. One job at a time.

    loop:
        job = LPOP queue:<q> for q in queues (first hit wins; the order restarts after each job)
        no job?   sleep INTERVAL                      <- polling: a job waits INTERVAL/2 on average
        job:      SET worker:<id> {queue, run_at, payload}
                  fork; the child runs hooks + perform, records a failure if it raised (its own
                  Redis connection opens on first use)
                  the parent waits (a child killed by a signal = DirtyExit failure)
                  DEL worker:<id>; INCRBY stat:processed (+ the next pop, same round trip)

Every pop is one Lua script (POP_SCRIPT): unless `pause-all-workers` is "true" (Resque 2.x's
fleet-wide pause), LPOP the queues in order, first hit wins. So the pause check costs no round
trip of its own, and a pop sent with the bookkeeping cannot take a job from a paused fleet.

Forking costs a fork and a new Redis connection per job, and buys isolation: a job that leaks
memory, segfaults or corrupts state takes only its child down, and USR1 can kill a stuck job
while the worker lives on. FORK_PER_JOB=false runs jobs in the worker process instead: faster,
unprotected. --blocking replaces the poll-and-sleep by one BLPOP across the queues (what GitHub's
Resque fork did): a job starts a Redis hop after it is pushed instead of up to INTERVAL later.

Signals (Resque's meanings): QUIT finish the current job, then exit; TERM / INT exit now, killing
the child (without fork: the job is interrupted); USR1 kill the child, keep working; USR2 pause
(finish the current job, take no new one); CONT resume. "Killing the child" is SIGKILL at once,
or, with TERM_CHILD, SIGTERM first (the job sees a TermException and can clean up) and SIGKILL
only if it is still there after RESQUE_TERM_TIMEOUT seconds. GRACEFUL_TERM makes TERM act as QUIT.
"""

from __future__ import annotations

import _signal
import atexit
import gc
import hashlib
import logging
import os
import select
import signal
import socket
import sys
import time
from typing import Any

import redis

from comparisons.resque_clone import batch, heartbeat, keys, procline, queues
from comparisons.resque_clone.connection import Connection, set_current
from comparisons.resque_clone.hooks import run_worker_hooks
from comparisons.resque_clone.job import DirtyExit, Job, TermException
from comparisons.resque_clone.scheduler import SchedulerThread
from core import procs

log = logging.getLogger("resque_clone.worker")

# KEYS[1] pause-all-workers, KEYS[2..] the queues in order. Returns -1 when paused (Ruby:
# value.to_s.strip.downcase == "true"), {index of the queue, payload} for a job, nil for none.
POP_SCRIPT = """
local v = redis.call('GET', KEYS[1])
if v and string.lower(string.match(v, '^%s*(.-)%s*$')) == 'true' then return -1 end
for i = 2, #KEYS do
  local job = redis.call('LPOP', KEYS[i])
  if job then return {i - 2, job} end
end
return false
"""
POP_SHA = hashlib.sha1(POP_SCRIPT.encode()).hexdigest()


class Worker:
    def __init__(
        self,
        conn: Connection,
        queue_patterns: list[str],
        interval: float = 5.0,
        fork_per_job: bool = True,
        blocking: bool = False,
        with_scheduler: bool = False,
        scheduler_interval: float = 5.0,
        heartbeat_interval: float = keys.HEARTBEAT_INTERVAL,
        prune_interval: float = keys.PRUNE_INTERVAL,
        hostname: str | None = None,
        term_child: bool = False,
        term_timeout: float = keys.TERM_TIMEOUT,
        graceful_term: bool = False,
        run_at_exit_hooks: bool = False,
    ) -> None:
        self.conn = conn
        self.patterns = queues.parse(queue_patterns)
        self.dynamic = queues.is_dynamic(self.patterns)
        self.interval = float(interval)
        self.fork_per_job = fork_per_job
        self.blocking = blocking
        self.with_scheduler = with_scheduler
        self.scheduler_interval = scheduler_interval
        self.heartbeat_interval = heartbeat_interval
        self.prune_interval = prune_interval
        self.hostname = hostname or socket.gethostname()
        self.term_child = term_child  # TERM the child, KILL it after term_timeout s
        self.term_timeout = float(term_timeout)
        self.graceful_term = graceful_term  # TERM = QUIT
        self.run_at_exit_hooks = run_at_exit_hooks  # the child runs atexit handlers before exiting
        self.pid = os.getpid()
        # the id names the queues without the `!` exclusions, as Ruby's Worker#to_s does
        self.id = f"{self.hostname}:{self.pid}:{','.join(queues.included(self.patterns))}"
        self.shutdown = False
        self.paused = False  # USR2 (this worker)
        self.paused_all = False  # pause-all-workers was "true" at the last pop (the fleet)
        self.child: int | None = None
        self._reaped: int | None = None  # the child's wait status, when a signal handler reaped it
        self._killing = False
        self.in_job = False
        self._redis_failures = 0
        # the per-job debug lines, decided once (-v / VVERBOSE): even a disabled log call walks
        # the logging module's objects, pages a forking worker copies after every fork
        self.verbose = log.isEnabledFor(logging.DEBUG)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._heartbeat: heartbeat.Heartbeat | None = None
        self._scheduler: SchedulerThread | None = None
        # for speed: the per-job commands go out together on the worker's own connection, one
        # round trip, touching few objects between forks (see batch.py)
        self.batch = batch.Batch(conn.redis)
        k = conn.keys
        self._worker_key = k.worker(self.id)
        self._done = (("DEL", self._worker_key), ("INCRBY", k.stat("processed"), "1"),
                      ("INCRBY", k.stat(f"processed:{self.id}"), "1"))
        self._pause_key = k.pause_all_workers

    # -- the loop ---------------------------------------------------------------------------

    def work(self) -> None:
        self.startup()
        try:
            job, skip = None, 0  # a job popped with the last done_working: worked, never dropped
            while not self.shutdown or job is not None:
                if job is None and not self.paused:
                    job, skip = self.reserve(skip), 0
                if job is not None:
                    job, skip = self.work_one(job)
                    continue
                if self.interval == 0:
                    break  # INTERVAL 0: drain the queues, then exit
                if self.paused or self.paused_all:
                    self.procline("Paused")
                    self.sleep(self.interval)
                elif not self.blocking:
                    self.procline(f"Waiting for {','.join(self.patterns)}")
                    self.sleep(self.interval)
        finally:
            self.teardown()

    def queues(self) -> list[str]:
        if not self.dynamic:
            return self.patterns
        existing = [q.decode() for q in self.conn.redis.smembers(self.conn.keys.queues)]
        return queues.expand(self.patterns, existing)

    def reserve(self, skip: int = 0) -> Job | None:
        """LPOP each queue in order (the first `skip` were just tried); the first hit wins. None
        while pause-all-workers is set."""
        try:
            names = self.queues()
            if self.blocking and self.interval > 0:
                job = self._blpop(names)
            else:
                job = self._pop(names[skip:])
            self._redis_failures = 0
            return job
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._redis_down(exc)
            return None

    def _blpop(self, names: list[str]) -> Job | None:
        self.paused_all = _is_true(self.batch.send(("GET", self._pause_key))[0])
        if self.paused_all:
            return None
        if not names:
            self.sleep(self.interval)
            return None
        self.procline(f"Waiting for {','.join(names)}")
        got = self.conn.redis.blpop([self.conn.keys.queue(q) for q in names], timeout=self.interval)
        if got is None:
            return None
        key, raw = got
        return Job.from_raw(key.decode()[len(self.conn.keys.queue_prefix()):], raw)

    def _pop(self, names: list[str], *before: batch.Command) -> Job | None:
        """POP_SCRIPT over `names`, after the `before` commands in the same round trip."""
        qkeys = [self.conn.keys.queue(q) for q in names]
        if not qkeys:
            return None
        args = (str(len(qkeys) + 1), self._pause_key, *qkeys)
        try:
            reply = self.batch.send(*before, ("EVALSHA", POP_SHA, *args))[-1]
        except redis.exceptions.NoScriptError:  # a fresh or restarted Redis: EVAL caches it
            reply = self.batch.send(("EVAL", POP_SCRIPT, *args))[-1]
        self.paused_all = reply == -1
        if reply is None or self.paused_all:
            return None
        index, raw = reply
        return Job.from_raw(names[int(index)], raw)

    def work_one(self, job: Job) -> tuple[Job | None, int]:
        """Run one job; return the next one if done_working popped it (and how many queues it
        tried)."""
        job.worker_id = self.id
        self._with_redis(lambda: self.batch.send(
            ("SET", self._worker_key, keys.working_on(job.queue, job.payload))))
        self.procline(f"Processing {job.queue} since {int(time.time())} [{job.class_name}]")
        if self.verbose:
            log.debug("got: %r", job)
        if self.fork_per_job:
            self.perform_with_fork(job)
        else:
            self.perform(job)
        return self._with_redis(self.done_working)

    def done_working(self) -> tuple[Job | None, int]:
        """DEL worker:<id>, INCRBY stat:processed and stat:processed:<id> (Resque's order). For
        speed, the next reserve's first LPOP rides in the same round trip, unless we are
        stopping or pausing, or the queue list needs a Redis look-up (`*`) or a BLPOP."""
        if self.shutdown or self.paused or self.dynamic or self.blocking:
            self.batch.send(*self._done)
            return None, 0
        job = self._pop(self.patterns[:1], *self._done)
        return job, (0 if self.paused_all else 1)

    # -- running one job ------------------------------------------------------------------

    def perform_with_fork(self, job: Job) -> None:
        job.prepare()
        run_worker_hooks("before_fork", job)
        sys.stdout.flush()
        sys.stderr.flush()
        self._reaped = None
        pid = os.fork()
        if pid == 0:
            self._child_main(job)  # never returns
        self.child = pid
        self.procline(f"Forked {pid} at {int(time.time())}")
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped by _term_then_kill_child, in a signal handler
            status = self._reaped if self._reaped is not None else 0
        self.child = None
        if os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name
            self._fail(job, DirtyExit(f"Child process received unhandled signal {name}"))
        elif os.WEXITSTATUS(status) != 0:
            self._fail(job, DirtyExit(f"Child process exited with status {os.WEXITSTATUS(status)}"))

    def _child_main(self, job: Job) -> None:
        code = 0
        try:
            gc.freeze()  # the inherited heap is never traversed by this child's GC: fewer page copies
            procs.die_with_parent(signal.SIGKILL)  # never outlive the worker
            # for speed, _signal: signal.signal's enum conversion of the old handler (a bound
            # method) builds and formats an exception, copying ~30 pages in every child
            _signal.signal(signal.SIGTERM, _raise_term)
            for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
                _signal.signal(sig, _signal.SIG_IGN)  # the parent decides; it may KILL us
            _signal.signal(signal.SIGCONT, _signal.SIG_DFL)
            # No explicit reconnect: redis-py's pool sees the new pid on its first use and opens
            # this child's own connection then (only a job or failure record that needs Redis
            # pays for it); the parent's socket is never used here.
            set_current(self.conn)
            self.perform(job, forked=True)
        except BaseException:
            code = 1
        finally:
            if self.run_at_exit_hooks:  # RUN_AT_EXIT_HOOKS: Ruby's `exit` instead of `exit!`
                try:
                    atexit._run_exitfuncs()
                    sys.stdout.flush()
                    sys.stderr.flush()
                except BaseException:
                    code = 1
            os._exit(code)

    def perform(self, job: Job, forked: bool = False) -> None:
        try:
            if forked:
                run_worker_hooks("after_fork", job)
            self.in_job = True
            job.perform()
            if self.verbose:
                log.debug("done: %r", job)
        except BaseException as exc:
            self.in_job = False
            self.report_failed_job(job, exc)
        finally:
            self.in_job = False

    def report_failed_job(self, job: Job, exc: BaseException) -> None:
        log.error("%r failed: %s: %s", job, type(exc).__name__, exc)
        self._fail(job, exc)
        try:
            with self.conn.redis.pipeline(transaction=False) as pipe:
                pipe.incr(self.conn.keys.stat("failed"))
                pipe.incr(self.conn.keys.stat(f"failed:{self.id}"))
                pipe.execute()
        except redis.RedisError as err:
            log.error("could not count the failure: %s", err)

    def _fail(self, job: Job, exc: BaseException) -> None:
        try:
            self._with_redis(lambda: job.fail(self.conn, exc))
        except Exception as err:
            log.error("could not record the failure of %r: %r", job, err)

    # -- life cycle -------------------------------------------------------------------------

    def startup(self) -> None:
        self.procline("Starting")
        self.install_signal_handlers()
        set_current(self.conn)
        self._heartbeat = heartbeat.Heartbeat(self.conn, self.id, self.heartbeat_interval)
        self._heartbeat.start()
        heartbeat.prune_dead_workers(self.conn, self.hostname, queues.included(self.patterns),
                                     self.prune_interval)
        run_worker_hooks("before_first_fork")
        heartbeat.register(self.conn, self.id)
        if self.with_scheduler:
            self._scheduler = SchedulerThread(self.conn, self.scheduler_interval)
            self._scheduler.start()
        mode = "blocking BLPOP" if self.blocking else f"polling every {self.interval:g} s"
        log.info("Worker %s started: %s, %s", self.id, mode,
                 "fork per job" if self.fork_per_job else "no fork")

    def teardown(self) -> None:
        if self._scheduler:
            self._scheduler.stop()
        if self._heartbeat:
            self._heartbeat.stop()
        try:
            heartbeat.unregister(self.conn, self.id)
        except redis.RedisError as exc:
            log.error("could not unregister %s: %s", self.id, exc)
        self.batch.close()
        log.info("Worker %s exiting", self.id)

    # -- signals ----------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._shutdown_after_job if self.graceful_term else self._shutdown_now)
        signal.signal(signal.SIGINT, self._shutdown_now)
        signal.signal(signal.SIGQUIT, self._shutdown_after_job)
        signal.signal(signal.SIGUSR1, self._kill_child)
        signal.signal(signal.SIGUSR2, self._pause)
        signal.signal(signal.SIGCONT, self._resume)

    def _shutdown_now(self, signum: int, frame: Any) -> None:
        log.info("%s: shutting down now", signal.Signals(signum).name)
        self.shutdown = True
        self.wake()
        if self.child:
            self._kill_child(signum, frame)
        elif self.in_job and not self.fork_per_job:
            raise TermException(signal.Signals(signum).name)

    def _shutdown_after_job(self, signum: int, frame: Any) -> None:
        log.info("%s: exiting after the current job", signal.Signals(signum).name)
        self.shutdown = True
        self.wake()

    def _kill_child(self, signum: int, frame: Any) -> None:
        if self.child and self.term_child:
            self._term_then_kill_child(self.child)
        elif self.child:
            log.info("Killing child at %d", self.child)
            try:
                os.kill(self.child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        elif signum == signal.SIGUSR1:
            log.info("USR1: no child to kill")

    def _term_then_kill_child(self, pid: int) -> None:
        """TERM_CHILD (Resque's new_kill_child): SIGTERM, then up to term_timeout seconds for the
        child to exit, then SIGKILL. Runs in a signal handler while the loop waits for the child;
        a child reaped here leaves its status in self._reaped for that wait."""
        if self._killing:
            return  # a second signal while we already wait: one countdown is enough
        self._killing = True
        try:
            if self._reap(pid):
                return
            log.info("Sending TERM signal to child %d", pid)
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + self.term_timeout
            while time.monotonic() < deadline:
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
                if self._reap(pid):
                    return
            log.info("Sending KILL signal to child %d", pid)
            os.kill(pid, signal.SIGKILL)
        except ChildProcessError:
            pass  # already reaped by the loop
        finally:
            self._killing = False

    def _reap(self, pid: int) -> bool:
        """Has the child exited? If so it is reaped now and its status kept in self._reaped."""
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            self._reaped = status
        return bool(done)

    def _pause(self, signum: int, frame: Any) -> None:
        log.info("USR2 received; pausing job processing")
        run_worker_hooks("before_pause", self)
        self.paused = True

    def _resume(self, signum: int, frame: Any) -> None:
        if self.paused:
            log.info("CONT received; resuming job processing")
            self.paused = False
            self.wake()
            run_worker_hooks("after_pause", self)

    # -- helpers ----------------------------------------------------------------------------

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except OSError:
            pass

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake at once on a signal that changes what we should do."""
        if self.shutdown:
            return
        select.select([self._wake_r], [], [], seconds)
        try:
            while os.read(self._wake_r, 64):
                pass
        except (BlockingIOError, OSError):
            pass

    def procline(self, text: str) -> None:
        title = procline.set_title(text)
        if self.verbose:
            log.debug("%s", title)

    def _redis_down(self, exc: Exception) -> None:
        self._redis_failures += 1
        wait = min(0.5 * 2 ** (self._redis_failures - 1), 5.0)
        log.error("Redis unavailable (%s); reconnecting in %.1f s", exc, wait)
        self.procline(f"Redis unavailable, retrying ({exc.__class__.__name__})")
        self.sleep(wait)

    def _with_redis(self, fn: Any) -> Any:
        """Run a Redis step, riding out a Redis outage (the job's state must be written)."""
        while True:
            try:
                result = fn()
                self._redis_failures = 0
                return result
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self._redis_down(exc)
                if self.shutdown and self._redis_failures > 5:
                    raise


def _is_true(value: bytes | None) -> bool:
    return value is not None and value.strip().lower() == b"true"


def _raise_term(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise TermException("SIGTERM")
