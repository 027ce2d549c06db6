"""Claims: which worker trains which architecture, so that two never train the same one.

A claim's owner is a store object (:func:`worker_identity`); a dead owner's claims are taken over
once they expire, or at once when it is provably dead (:func:`provably_dead`).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from nas._errors import StoreError
from nas.store._schema import ClaimRow

if TYPE_CHECKING:
    from nas.store._results import ResultStore


class Claim:
    """A claim on one result's key: a heartbeat thread extends it while the ``with`` block runs
    (the training), and it is released when the block ends, whether the training stored a
    result or raised.

    ``lost`` turns true, with a line saying so, when a heartbeat finds the claim no longer this
    worker's (it expired while the database was unreachable, and another worker took it over);
    the training goes on, and whichever result is stored first stands.
    """

    def __init__(self, store: ResultStore, where: sa.ColumnElement[bool], name: str) -> None:
        self._store, self._where, self._name = store, where, name
        self.lost = False
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="nas-claim-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._store.claim_seconds / 4):
            try:
                held = self._store._extend_claim(self._where, stop=self._stop)
            except StoreError:
                continue  # unreachable for long: the claim may expire, and the next beat says so
            if not held:
                self.lost = True
                self._store._say(f"claim on {self._name} was lost (it expired and another worker took it over)")
                return

    def __enter__(self) -> Claim:
        self._heartbeat.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._heartbeat.join()  # its retries end once _stop is set
        try:  # one attempt (_stop is set): a claim left behind expires on its own
            self._store._attempt(lambda session: session.execute(sa.delete(ClaimRow).where(self._where)), stop=self._stop)
        except StoreError as error:
            self._store._say(f"could not release the claim on {self._name}: {error}")


def worker_identity() -> str:
    """``host:pid:uuid|proof``: the random UUID makes it unique to this store object on any
    machine (host and pid are for people reading it); ``proof`` lets another worker on the same
    kernel and in the same PID namespace tell that this process is dead (:func:`provably_dead`)."""
    host = socket.gethostname()[:40]
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex}|{_namespace() or '-'}:{_start_time(os.getpid()) or '-'}"


def _namespace() -> str | None:
    """This kernel boot and PID namespace, hashed; None where /proc does not say (not Linux)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return hashlib.sha256(f"{boot}|{namespace}".encode()).hexdigest()[:12]


def _start_time(pid: int | str) -> str | None:
    """When process ``pid`` started (clock ticks since boot), or None when that cannot be read
    (no such process, or /proc hides it: hidepid)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def provably_dead(owner: str) -> bool:
    """Whether claim owner ``owner`` is a process that no longer runs: it ran on this kernel in
    this PID namespace (so its pid means the same here) and that pid is gone or now another
    process (another start time). Anything else (another machine, a container, an older worker's
    owner string) cannot be proven dead: its claim waits to expire."""
    shown, _, proof = owner.partition("|")
    namespace, _, started = proof.partition(":")
    pid = shown.split(":")[-2] if shown.count(":") >= 2 else ""
    if not pid.isdigit() or namespace != _namespace() or started in ("", "-"):
        return False
    if not pid_exists(int(pid)):
        return True
    now = _start_time(pid)  # unreadable (hidepid): not proof of anything
    return now is not None and now != started


def pid_exists(pid: int) -> bool:
    """Whether a process ``pid`` runs in this PID namespace (one of another user's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
