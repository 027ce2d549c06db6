"""A throwaway PostgreSQL server for tests.

Runs a real cluster (``initdb`` + ``pg_ctl``) in a temporary folder, listening on 127.0.0.1 on a
free port, with its unix socket in the same folder and ``trust`` authentication. PostgreSQL
refuses to run as root, so when the tests run as root the server runs as a dedicated system
user (created with ``useradd --system`` if missing).

Used by the ``postgres_server`` / ``postgres_url`` fixtures in ``tests/conftest.py``; kept out of
conftest so that scripts can start a server too::

    with PostgresServer.start() as server:
        url = server.create_database("mydb")
"""

from __future__ import annotations

from collections.abc import Sequence
import os
from pathlib import Path
import pwd
import shutil
import socket
import subprocess
import tempfile
from types import TracebackType
import uuid


SERVICE_USER = "pgtest"
SUPERUSER = "postgres"
_START_ATTEMPTS = 3


def initdb_path() -> str | None:
    """Path of ``initdb``, or :obj:`None` if PostgreSQL is not installed.

    Debian's packages keep it out of PATH, under ``/usr/lib/postgresql/<version>/bin``.
    """

    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return shutil.which("initdb") or (str(installed[-1]) if installed else None)


class PostgresServer:
    """A running PostgreSQL cluster; :meth:`stop` (or leaving the ``with`` block) removes it."""

    def __init__(self, root: Path, port: int, run_as: str | None) -> None:
        self.root = root
        self.port = port
        self._run_as = run_as

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @classmethod
    def start(cls) -> PostgresServer:
        initdb = initdb_path()
        if initdb is None:
            raise FileNotFoundError("initdb is not on PATH; PostgreSQL is not installed.")
        run_as = _ensure_service_user() if os.geteuid() == 0 else None
        # Not pytest's tmp_path: its parents are private to root, and the server user must be
        # able to reach its data folder.
        root = Path(tempfile.mkdtemp(prefix="pgtest-"))
        server = cls(root, port=0, run_as=run_as)
        try:
            server.socket_dir.mkdir()
            if run_as is not None:
                shutil.chown(root, user=run_as)
                shutil.chown(server.socket_dir, user=run_as)
            server._run(
                [initdb, "-D", str(server.data_dir), "-U", SUPERUSER, "--auth=trust",
                 "--encoding=UTF8", "--no-sync", "--no-instructions"]  # fmt: skip
            )
            server._start_on_free_port()
        except BaseException:
            server.stop()
            raise
        return server

    def url(self, database: str = SUPERUSER) -> str:
        """SQLAlchemy URL of ``database`` on this server."""

        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create a database (a fresh random name by default) and return its URL."""

        name = name or f"test_{uuid.uuid4().hex[:12]}"
        self._run(
            [self._tool("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER,
             name]  # fmt: skip
        )
        return self.url(name)

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(
                [self._tool("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"],
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is cut, the server comes back on the same port."""
        self._run(
            [self._tool("pg_ctl"), "restart", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60",
             "-l", str(self.root / "server.log")]  # fmt: skip
        )

    def stop_server(self) -> None:
        """Stop the server but keep its data: :meth:`start_server` brings it back on the same port."""
        self._run([self._tool("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"])

    def start_server(self) -> None:
        self._run(
            [self._tool("pg_ctl"), "start", "-D", str(self.data_dir), "-w", "-t", "60",
             "-l", str(self.root / "server.log"), "-o", self._options()]  # fmt: skip
        )

    def signal_all(self, signal_number: int) -> None:
        """Send a signal to the server and all its processes (SIGSTOP freezes it, SIGCONT thaws it)."""
        postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["ps", "--ppid", str(postmaster), "-o", "pid="], capture_output=True, text=True).stdout
        for pid in [postmaster, *map(int, children.split())]:
            os.kill(pid, signal_number)

    def _options(self) -> str:
        return (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )

    def _start_on_free_port(self) -> None:
        # A free port found by binding port 0 can be taken by someone else before the server
        # binds it; retry with another one.
        for attempt in range(_START_ATTEMPTS):
            self.port = _free_port()
            options = self._options()
            log = self.root / "server.log"
            result = self._run(
                [self._tool("pg_ctl"), "start", "-D", str(self.data_dir), "-w", "-t", "60",
                 "-l", str(log), "-o", options],  # fmt: skip
                check=attempt == _START_ATTEMPTS - 1,
            )
            if result.returncode == 0:
                return

    def _tool(self, name: str) -> str:
        # Use the binaries of the same installation as initdb, whatever else is on PATH.
        initdb = initdb_path()
        assert initdb is not None
        sibling = Path(initdb).resolve().parent / name
        return str(sibling) if sibling.exists() else name

    def _run(self, command: Sequence[str], check: bool = True) -> subprocess.CompletedProcess:
        if self._run_as is not None:
            command = ["runuser", "-u", self._run_as, "--", *command]
        result = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=120, check=False
        )
        if check and result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{tail}"
            )
        return result


def _ensure_service_user() -> str:
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SERVICE_USER],  # fmt: skip
            check=True,
            capture_output=True,
        )
    return SERVICE_USER


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
