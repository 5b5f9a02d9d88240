"""Processes the launcher starts: detached spawn, pid records, stop, readiness waits, atomic installs.

A pid record is a small JSON file holding the pid *and* the process start time read from
``/proc/<pid>/stat``; a record whose pid now belongs to another process (pid reuse) is stale, so
``stop`` never signals a process the launcher did not start. Linux only (``/proc``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import structlog

log = structlog.get_logger("agentic.compose")

COMPLETE_MARKER = ".complete"


class StackError(RuntimeError):
    """A step of bringing a service up or down failed; names the step and the log to read."""

    def __init__(self, service: str, step: str, reason: str, log_file: Path | None = None) -> None:
        self.service, self.step, self.reason, self.log_file = service, step, reason, log_file
        text = f"{service}: step '{step}' failed: {reason}"
        if log_file is not None:
            text += f"\n--- last lines of {log_file} ---\n{tail(log_file)}"
        super().__init__(text)


@dataclass(frozen=True, slots=True)
class PidRecord:
    """What the launcher wrote when it started a process."""

    service: str
    pid: int
    start_ticks: int
    version: str
    log_file: str


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a text file, or a note that it does not exist."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no file {path})"
    return "\n".join(data.splitlines()[-lines:])


def start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (field 22 of /proc/pid/stat); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited; reap it if it is our child
        _reap(pid)
        return None
    return int(fields[19])


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_file(state_dir: Path, service: str) -> Path:
    return state_dir / "run" / f"{service}.pid.json"


def read_record(state_dir: Path, service: str) -> PidRecord | None:
    """The pid record of ``service`` if the process it names is still the one we started."""
    path = pid_file(state_dir, service)
    try:
        record = PidRecord(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        log.warning("pid record unreadable, removing", path=str(path))
        path.unlink(missing_ok=True)
        return None
    if start_ticks(record.pid) != record.start_ticks:
        log.info("stale pid record removed", service=service, pid=record.pid)
        path.unlink(missing_ok=True)
        return None
    return record


def spawn(
    service: str,
    argv: Sequence[str],
    *,
    state_dir: Path,
    version: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> PidRecord:
    """Start ``argv`` detached (own session, output to ``state_dir/logs/<service>.log``)."""
    log_file = state_dir / "logs" / f"{service}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {service} {version}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        )
    # Detached: this process never waits on it (stop() reaps it if it is our child). Marking the
    # Popen finished keeps its finaliser from warning "subprocess ... is still running".
    proc.returncode = 0
    ticks = start_ticks(proc.pid)
    if ticks is None:
        raise StackError(service, "start", "process exited at once", log_file)
    record = PidRecord(service, proc.pid, ticks, version, str(log_file))
    path = pid_file(state_dir, service)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(record)))
    log.info("started", service=service, pid=proc.pid, log=str(log_file))
    return record


def stop(state_dir: Path, service: str, timeout: float = 30.0) -> bool:
    """SIGTERM the recorded process, SIGKILL it after ``timeout``; True if one was stopped."""
    record = read_record(state_dir, service)
    if record is None:
        return False
    _signal(record, signal.SIGTERM)
    if not wait_for(lambda: start_ticks(record.pid) != record.start_ticks, timeout):
        log.warning("no exit after SIGTERM, sending SIGKILL", service=service, pid=record.pid)
        _signal(record, signal.SIGKILL)
        wait_for(lambda: start_ticks(record.pid) != record.start_ticks, 10.0)
    pid_file(state_dir, service).unlink(missing_ok=True)
    log.info("stopped", service=service, pid=record.pid)
    return True


def _signal(record: PidRecord, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(record.pid, sig)  # the process leads its own session and group
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, sig)


def wait_for(check: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def http_get(url: str, timeout: float = 3.0) -> httpx.Response | None:
    """GET `url`; None when nothing answers (a service that is down or still starting)."""
    try:
        return httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return None


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def split_host_port(address: str) -> tuple[str, int]:
    """'127.0.0.1:9092' -> ('127.0.0.1', 9092); the first address of a comma-separated list."""
    host, _, port = address.split(",")[0].strip().rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"address {address!r}: expected HOST:PORT, e.g. 127.0.0.1:9092")
    return host, int(port)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def is_installed(target: Path) -> bool:
    return (target / COMPLETE_MARKER).is_file()


def install_atomically(target: Path, build: Callable[[Path], None]) -> bool:
    """Build into a temporary sibling folder, mark it complete, rename it to ``target``.

    An interrupted build leaves only a ``.tmp-*`` folder, never a ``target`` that looks finished;
    a lock file serialises concurrent installs of the same target. True if this call built it.
    """
    if is_installed(target):
        return False
    with _file_lock(target.parent / f".{target.name}.lock"):
        if is_installed(target):
            return False
        for leftover in target.parent.glob(f".{target.name}.tmp-*"):  # interrupted earlier installs
            shutil.rmtree(leftover, ignore_errors=True)
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
        tmp.mkdir(parents=True)
        try:
            build(tmp)
            (tmp / COMPLETE_MARKER).write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            shutil.rmtree(target, ignore_errors=True)  # an unmarked leftover from an older layout
            os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return True


def run_logged(service: str, step: str, argv: Sequence[str], log_file: Path, *,
               cwd: Path, env: Mapping[str, str] | None = None) -> None:
    """Run an install step to completion with its output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} $ {' '.join(argv)}\n".encode())
        out.flush()
        code = subprocess.call(list(argv), cwd=cwd, env=dict(env) if env is not None else None,
                               stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    if code != 0:
        raise StackError(service, step, f"`{' '.join(argv)}` exited with code {code}", log_file)


def require_tool(service: str, tool: str, hint: str) -> str:
    """Absolute path of a command the install needs, or an error saying how to get it."""
    found = shutil.which(tool)
    if found is None:
        raise StackError(service, "install", f"`{tool}` is not on PATH: {hint}")
    return found


def listening_pid(port: int) -> int | None:
    """Pid of the local process listening on TCP ``port`` (any address), from /proc; None if unseen.

    Only processes whose /proc/<pid>/fd this user may read are found (a container's are not).
    """
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return int(proc.name)
    return None


def _listening_inodes(port: int) -> set[str]:
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    found.add(f"socket:[{inode}]")
    return found
