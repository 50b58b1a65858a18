"""Throwaway PostgreSQL server for the test suite (stdlib only).

Usage::

    server = start_postgres()
    try:
        url = server.create_database("deskdrill_test")
        ...
    finally:
        server.stop()

The server runs from a fresh temporary directory (data directory, Unix socket
directory and log file), listens on 127.0.0.1 on a free port, uses ``trust``
authentication and has a superuser role named ``deskdrill``.  ``pg_trgm`` is
installed in ``template1`` so every database created afterwards has it.

``initdb`` refuses to run as root, so when running as root the server is run as
the ``postgres`` OS user (or a ``deskdrill-pg`` system user created on demand)
through ``runuser``.  The server is always stopped by the real postmaster pid
(read from ``postmaster.pid``), never by process name.

Run ``python tests/support/pgserver.py`` for a smoke test.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PgServer", "find_bindir", "start_postgres"]

DB_ROLE = "deskdrill"
HOST = "127.0.0.1"
FALLBACK_OS_USER = "deskdrill-pg"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_START_ATTEMPTS = 3  # retries when the chosen port was grabbed by someone else

_INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, postgres) were not found. "
    "Run scripts/ensure-test-deps.sh as root, or install them yourself "
    "(Debian/Ubuntu: apt-get install postgresql postgresql-contrib), "
    "or set DESKDRILL_PG_BINDIR to a directory containing initdb and postgres."
)

# Servers started by this process and not yet stopped; stopped at interpreter exit.
_LIVE: set[PgServer] = set()


@dataclass(eq=False)
class PgServer:
    bindir: Path
    datadir: Path
    port: int
    pid: int  # real postmaster pid (not the runuser wrapper's)
    user: str  # OS user running the server
    tmpdir: Path | None = None  # temp dir holding datadir, socket dir and log; removed by stop()
    logfile: Path | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _extra_dirs: list[Path] = field(default_factory=list, repr=False)
    _stopped: bool = field(default=False, repr=False)

    # -- connection helpers -------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{DB_ROLE}@{HOST}:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL through psql as the ``deskdrill`` role; return unaligned, tuples-only output."""
        cmd = [
            str(_client_tool(self.bindir, "psql")),
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            HOST,
            "-p",
            str(self.port),
            "-U",
            DB_ROLE,
            "-d",
            dbname,
            "-c",
            sql,
        ]
        return _run(cmd, what=f"psql ({sql!r})", env=_client_env()).stdout

    def create_database(self, name: str) -> str:
        """Create database ``name`` if it does not exist yet; return its URL."""
        if len(name.encode()) > 63:
            raise ValueError(f"database name too long (max 63 bytes): {name!r}")
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = {_sql_literal(name)}")
        if exists.strip() != "1":
            createdb = _find_tool(self.bindir, "createdb")
            if createdb is not None:
                cmd = [str(createdb), "-h", HOST, "-p", str(self.port), "-U", DB_ROLE, name]
                _run(cmd, what=f"createdb {name}", env=_client_env())
            else:
                self.psql(f"CREATE DATABASE {_sql_ident(name)}")
        return self.url(name)

    # -- lifecycle --------------------------------------------------------------

    def stop(self) -> None:
        """Fast-shutdown the postmaster by pid (SIGINT, SIGKILL after 10 s); remove the temp dir.

        Idempotent.  SIGINT is PostgreSQL's "fast" shutdown: unlike SIGTERM ("smart")
        it does not wait for open client connections (e.g. a leftover pool) to go away.
        """
        if self._stopped:
            return
        self._stopped = True
        _LIVE.discard(self)
        try:
            _terminate_postmaster(self.pid, self._proc, STOP_TIMEOUT)
        finally:
            for d in [self.tmpdir, *self._extra_dirs]:
                if d is not None:
                    shutil.rmtree(d, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------
# Binary discovery
# ---------------------------------------------------------------------------


def _has_server_binaries(d: Path) -> bool:
    return all(os.access(d / b, os.X_OK) and (d / b).is_file() for b in ("initdb", "postgres"))


def _version_key(p: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin -> numeric sort (so 16 > 9.6)
    return tuple(int(x) for x in re.findall(r"\d+", p.parent.name)) or (-1,)


def find_bindir() -> Path | None:
    """Locate a directory containing ``initdb`` and ``postgres``.

    Order: $DESKDRILL_PG_BINDIR, ``pg_config --bindir``, the highest
    /usr/lib/postgresql/*/bin, then the real directory of ``initdb`` on PATH.
    Returns None when nothing is found; raises if DESKDRILL_PG_BINDIR is set but wrong.
    """
    env_dir = os.environ.get("DESKDRILL_PG_BINDIR")
    if env_dir:
        d = Path(env_dir).expanduser()
        if not _has_server_binaries(d):
            raise RuntimeError(
                f"DESKDRILL_PG_BINDIR={env_dir} does not contain executable initdb and postgres"
            )
        return d

    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _has_server_binaries(Path(out)):
            return Path(out)

    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if _has_server_binaries(p)]
    if candidates:
        return max(candidates, key=_version_key)

    # Last resort: initdb on PATH; /usr/local/bin/initdb may be a symlink or a wrapper,
    # so use the real directory and require postgres next to it.
    initdb = shutil.which("initdb")
    if initdb:
        d = Path(initdb).resolve().parent
        if _has_server_binaries(d):
            return d
    return None


def _find_tool(bindir: Path, name: str) -> Path | None:
    p = bindir / name
    if p.is_file() and os.access(p, os.X_OK):
        return p
    found = shutil.which(name)
    return Path(found) if found else None


def _client_tool(bindir: Path, name: str) -> Path:
    p = _find_tool(bindir, name)
    if p is None:
        raise RuntimeError(f"{name} not found in {bindir} or on PATH. {_INSTALL_HINT}")
    return p


# ---------------------------------------------------------------------------
# Process helpers
# ---------------------------------------------------------------------------


def _client_env() -> dict[str, str]:
    """Environment without PG* variables (PGHOST, PGDATA, PGPASSWORD, ... would interfere)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    env["PGCLIENTENCODING"] = "UTF8"
    return env


def _run(
    cmd: list[str],
    *,
    what: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    try:
        res = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"{what} timed out after {timeout} s: {' '.join(cmd)}") from e
    if check and res.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit {res.returncode}): {' '.join(cmd)}\n"
            f"{res.stdout}{res.stderr}".rstrip()
        )
    return res


def _sql_literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _sql_ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _ensure_os_user() -> str:
    """Pick the unprivileged OS user that runs the server when we are root."""
    for name in ("postgres", FALLBACK_OS_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    res = _run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_OS_USER],
        what=f"useradd {FALLBACK_OS_USER}",
        check=False,
    )
    try:  # another test worker may have created it concurrently; only the result matters
        pwd.getpwnam(FALLBACK_OS_USER)
    except KeyError:
        raise RuntimeError(
            f"could not create OS user {FALLBACK_OS_USER} "
            "(needed because initdb refuses to run as root):\n"
            f"{res.stdout}{res.stderr}"
        ) from None
    return FALLBACK_OS_USER


class _Runner:
    """Builds commands that run as ``user`` (via runuser when we are root)."""

    def __init__(self, user: str | None) -> None:
        self.user = user  # None: run as ourselves
        self.runuser: str | None = None
        if user:
            self.runuser = shutil.which("runuser") or next(
                (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None
            )

    def argv(self, cmd: list[str]) -> list[str]:
        if self.user and self.runuser:
            return [self.runuser, "-u", self.user, "--", *cmd]
        return cmd

    def switch_ids(self) -> tuple[int | None, int | None, list[int] | None]:
        """(user, group, extra_groups) for subprocess if runuser is unavailable, else all None."""
        if self.user and not self.runuser:
            pw = pwd.getpwnam(self.user)
            return pw.pw_uid, pw.pw_gid, []
        return None, None, None

    def run(
        self, cmd: list[str], *, what: str, cwd: Path, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = _client_env()
        if self.user:
            env["HOME"] = str(cwd)
        uid, gid, groups = self.switch_ids()
        argv = self.argv(cmd)
        try:
            res = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env=env,
                cwd=cwd,
                timeout=120,
                stdin=subprocess.DEVNULL,
                user=uid,
                group=gid,
                extra_groups=groups,
            )
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"{what} timed out: {' '.join(argv)}") from e
        if check and res.returncode != 0:
            raise RuntimeError(
                f"{what} failed (exit {res.returncode}): {' '.join(argv)}\n{res.stdout}{res.stderr}"
            )
        return res


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _tail(path: Path, n: int = 40) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as e:
        return f"(could not read {path}: {e})"
    return "\n".join(lines[-n:])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is as good as gone
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for p in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = p.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                kids.append(int(p.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return kids


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _terminate_postmaster(pid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    def gone() -> bool:
        if proc is not None:
            proc.poll()  # reap runuser / the postmaster itself when it is our direct child
        return not _pid_alive(pid)

    if pid > 0 and not gone():
        _signal(pid, signal.SIGINT)  # fast shutdown
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not gone():
            time.sleep(0.02)
        if not gone():
            kids = _children(pid)
            _signal(pid, signal.SIGKILL)
            # Backends exit on postmaster death anyway, but don't leave them around.
            for k in kids:
                _signal(k, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not gone():
                time.sleep(0.02)
    if proc is not None and proc.poll() is None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# ---------------------------------------------------------------------------
# Start
# ---------------------------------------------------------------------------


def _make_tmpdir(base_dir: Path | None, runner: _Runner, uid: int, gid: int) -> Path:
    parent = str(base_dir) if base_dir is not None else None
    if base_dir is not None:
        base_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="deskdrill-pg-", dir=parent))
    if runner.user:
        os.chown(tmp, uid, gid)
        os.chmod(tmp, 0o700)
        # The server user must reach the dir: e.g. pytest's /tmp/pytest-of-root is 0700 root.
        check = runner.run(
            ["test", "-w", str(tmp), "-a", "-x", str(tmp)],
            what="access check",
            cwd=Path("/"),
            check=False,
        )
        if check.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            if base_dir is None:
                raise RuntimeError(f"OS user {runner.user} cannot access {tmp}")
            return _make_tmpdir(None, runner, uid, gid)  # fall back to the system temp dir
    return tmp


def _initdb(bindir: Path, datadir: Path, runner: _Runner, cwd: Path) -> None:
    base = [
        str(bindir / "initdb"),
        "-D",
        str(datadir),
        "-A",
        "trust",
        "-U",
        DB_ROLE,
        "-E",
        "UTF8",
        "--no-sync",
    ]
    errors: list[str] = []
    for locale in ("C.UTF-8", "C"):
        res = runner.run([*base, f"--locale={locale}"], what="initdb", cwd=cwd, check=False)
        if res.returncode == 0:
            return
        errors.append(
            f"--locale={locale}: exit {res.returncode}\n{res.stdout}{res.stderr}".rstrip()
        )
        shutil.rmtree(datadir, ignore_errors=True)
    raise RuntimeError("initdb failed:\n" + "\n".join(errors))


def _is_ready(bindir: Path, port: int, logfile: Path) -> bool:
    pg_isready = _find_tool(bindir, "pg_isready")
    if pg_isready is not None:
        res = subprocess.run(
            [
                str(pg_isready),
                "-q",
                "-h",
                HOST,
                "-p",
                str(port),
                "-U",
                DB_ROLE,
                "-d",
                "postgres",
                "-t",
                "1",
            ],
            env=_client_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return res.returncode == 0
    try:
        with socket.create_connection((HOST, port), timeout=1):
            pass
    except OSError:
        return False
    try:
        return "ready to accept connections" in logfile.read_text(errors="replace")
    except OSError:
        return False


def _read_postmaster_pid(datadir: Path) -> int | None:
    try:
        first = (datadir / "postmaster.pid").read_text().splitlines()[0]
        return int(first.strip())
    except (OSError, IndexError, ValueError):
        return None


def start_postgres(base_dir: Path | None = None) -> PgServer:
    """initdb a fresh cluster in a temp dir (under base_dir or the system temp dir) and start it."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(_INSTALL_HINT)

    if os.geteuid() == 0:
        os_user = _ensure_os_user()
        runner = _Runner(os_user)
    else:
        os_user = pwd.getpwuid(os.geteuid()).pw_name
        runner = _Runner(None)
    pw = pwd.getpwnam(os_user)

    tmpdir = _make_tmpdir(base_dir, runner, pw.pw_uid, pw.pw_gid)
    extra_dirs: list[Path] = []
    proc: subprocess.Popen[bytes] | None = None
    postmaster_pid: int | None = None
    try:
        datadir = tmpdir / "data"
        sockdir = tmpdir / "sock"
        # Unix socket paths are limited to ~107 bytes; use a short dir if base_dir is deep.
        if len(str(sockdir)) + len("/.s.PGSQL.65535") >= 100:
            sockdir = Path(tempfile.mkdtemp(prefix="ddpg-"))
            extra_dirs.append(sockdir)
        else:
            sockdir.mkdir()
        if runner.user:
            os.chown(sockdir, pw.pw_uid, pw.pw_gid)
        logfile = tmpdir / "postgres.log"

        _initdb(bindir, datadir, runner, cwd=tmpdir)

        last_error = ""
        for _attempt in range(_START_ATTEMPTS):
            port = _free_port()
            cmd = [
                str(bindir / "postgres"),
                "-D",
                str(datadir),
                "-p",
                str(port),
                "-k",
                str(sockdir),
                "-c",
                f"listen_addresses={HOST}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=128MB",
            ]
            env = _client_env()
            if runner.user:
                env["HOME"] = str(tmpdir)
            uid, gid, groups = runner.switch_ids()
            with open(logfile, "ab") as log:
                proc = subprocess.Popen(
                    runner.argv(cmd),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=tmpdir,
                    env=env,
                    user=uid,
                    group=gid,
                    extra_groups=groups,
                )
            deadline = time.monotonic() + READY_TIMEOUT
            ready = False
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if _is_ready(bindir, port, logfile):
                    ready = True
                    break
                time.sleep(0.05)
            if ready:
                postmaster_pid = _read_postmaster_pid(datadir)
                if postmaster_pid is None:
                    raise RuntimeError(
                        f"server is ready but {datadir}/postmaster.pid is unreadable"
                    )
                break
            exited_early = proc.returncode is not None
            log_tail = _tail(logfile)
            # Kill whatever is left of this attempt before retrying or giving up.
            _terminate_postmaster(_read_postmaster_pid(datadir) or proc.pid, proc, 5)
            if exited_early and ("could not bind" in log_tail or "already in use" in log_tail):
                last_error = log_tail  # port race with another process: try another port
                continue
            if exited_early:
                reason = f"exited with code {proc.returncode} before accepting connections"
            else:
                reason = f"did not accept connections within {READY_TIMEOUT:.0f} s"
            raise RuntimeError(f"PostgreSQL server {reason}. Last lines of its log:\n{log_tail}")
        else:
            raise RuntimeError(
                f"PostgreSQL could not bind a free port after {_START_ATTEMPTS} attempts:\n"
                f"{last_error}"
            )

        server = PgServer(
            bindir=bindir,
            datadir=datadir,
            port=port,
            pid=postmaster_pid,
            user=os_user,
            tmpdir=tmpdir,
            logfile=logfile,
            _proc=proc,
            _extra_dirs=extra_dirs,
        )
    except BaseException:
        if proc is not None:
            _terminate_postmaster(
                postmaster_pid or _read_postmaster_pid(tmpdir / "data") or proc.pid, proc, 5
            )
        shutil.rmtree(tmpdir, ignore_errors=True)
        for d in extra_dirs:
            shutil.rmtree(d, ignore_errors=True)
        raise

    _LIVE.add(server)
    try:
        server.psql("CREATE EXTENSION IF NOT EXISTS pg_trgm", dbname="template1")
    except BaseException:
        server.stop()
        raise
    return server


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            server.stop()


def _main() -> int:
    t0 = time.monotonic()
    server = start_postgres()
    t1 = time.monotonic()
    try:
        print(server.url())
        print(f"pid={server.pid} user={server.user} datadir={server.datadir} up in {t1 - t0:.2f}s")
        url = server.create_database("smoke")
        print(url)
        out = server.psql("select 1", dbname="smoke").strip()
        if out != "1":
            raise RuntimeError(f"unexpected psql output: {out!r}")
        trgm = server.psql(
            "select extname from pg_extension where extname = 'pg_trgm'", dbname="smoke"
        ).strip()
        if trgm != "pg_trgm":
            raise RuntimeError("pg_trgm missing in new database")
    finally:
        t2 = time.monotonic()
        server.stop()
        print(f"stopped in {time.monotonic() - t2:.2f}s")
    if _pid_alive(server.pid):
        raise RuntimeError(f"postmaster {server.pid} still alive after stop()")
    if shutil.which("pgrep"):
        left = subprocess.run(
            ["pgrep", "-f", str(server.datadir)], capture_output=True, text=True
        ).stdout.split()
        if left:
            raise RuntimeError(f"processes still running for {server.datadir} after stop(): {left}")
    if server.tmpdir is not None and server.tmpdir.exists():
        raise RuntimeError(f"{server.tmpdir} still exists after stop()")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
