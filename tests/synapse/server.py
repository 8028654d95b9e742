"""A throwaway Synapse homeserver on loopback for the Matrix tests.

``SynapseServer.start()`` installs a pinned matrix-synapse into a venv cached
outside the repository (once per machine, under a file lock so parallel runs
do not race), writes a loopback-only config (SQLite, no federation listener,
no outbound traffic, relaxed rate limits, registration only through the shared
secret), starts it on a free port, waits until it answers and registers the
test users. ``stop()`` ends the process and its data dir goes with pytest's
tmp dir.

Run by hand to see the timings: ``.venv/bin/python -m tests.synapse.server``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# Pinned: homeserver.yaml keys change between releases. Verified with this config.
SYNAPSE_VERSION = "1.163.2"
INSTALL_TIMEOUT = 900.0  # a cold pip install on a slow CI runner
READY_TIMEOUT = 90.0
SERVER_NAME = "localhost"
USERS = (("mod", True, "Mod Bot"), ("alice", False, "Alice & Co"), ("spammer", False, "Cheap <b>Pills</b>"))


class SynapseUnavailable(Exception):
    """Synapse cannot be installed here (no package index, unsupported platform): tests skip."""


@dataclass
class MatrixUser:
    user_id: str
    access_token: str
    password: str
    display_name: str


@dataclass
class SynapseServer:
    venv: Path
    data_dir: Path
    port: int = 0
    secret: str = ""
    users: dict[str, MatrixUser] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    install_seconds: float = 0.0
    start_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- install ---

    @staticmethod
    def cache_root() -> Path:
        base = os.environ.get("GROUPWATCH_TEST_CACHE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "groupwatch-tests")
        return Path(base)

    @classmethod
    def ensure_installed(cls, version: str = SYNAPSE_VERSION) -> tuple[Path, float]:
        """The venv holding matrix-synapse ``version``, installing it on first use; (path, seconds spent)."""
        try:
            import fcntl
        except ImportError:
            raise SynapseUnavailable("the Synapse fixture needs a POSIX system (fcntl)") from None
        root = cls.cache_root()
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError:  # a read-only home on some CI runners: a per-user temp dir still caches per machine
            root = Path(tempfile.gettempdir()) / f"groupwatch-tests-{os.getuid()}"
            root.mkdir(parents=True, exist_ok=True)
        venv = root / f"synapse-{version}"
        marker = venv / ".groupwatch-installed"
        started = time.monotonic()
        with open(root / f"synapse-{version}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel run waits here for the first one's install
            if marker.exists():
                return venv, time.monotonic() - started
            tmp = Path(tempfile.mkdtemp(prefix=f"synapse-{version}.", dir=root))
            try:
                _run([sys.executable, "-m", "venv", str(tmp)], "creating the Synapse venv", 120)
                _run([str(tmp / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                      "--no-input", f"matrix-synapse=={version}"], f"pip install matrix-synapse=={version}",
                     INSTALL_TIMEOUT)
                # Built under a temporary name and renamed once complete, so an interrupted install never
                # looks finished. Only bin/python is run from it, which does not mind the move.
                if venv.exists():
                    shutil.rmtree(venv)
                tmp.rename(venv)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            marker.write_text(version + "\n")
        return venv, time.monotonic() - started

    # --- run ---

    @classmethod
    def start(cls, data_dir: Path) -> "SynapseServer":
        venv, install_seconds = cls.ensure_installed()
        srv = cls(venv=venv, data_dir=data_dir, install_seconds=install_seconds)
        t0 = time.monotonic()
        srv._configure()
        srv._launch()
        srv.start_seconds = time.monotonic() - t0
        try:
            srv._register_users()
        except BaseException:
            srv.stop()
            raise
        return srv

    def _configure(self) -> None:
        d = self.data_dir
        d.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.secret = secrets.token_hex(24)
        relaxed = {"per_second": 10000, "burst_count": 100000}
        config = {
            "server_name": SERVER_NAME,
            "public_baseurl": f"{self.url}/",
            # Only the client API (with /_synapse/admin): no federation resource, loopback only.
            "listeners": [{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                           "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
            "database": {"name": "sqlite3", "args": {"database": str(d / "homeserver.db")}},
            "log_config": str(d / "log.config"),
            "media_store_path": str(d / "media_store"),
            "signing_key_path": str(d / "signing.key"),
            "registration_shared_secret": self.secret,
            "macaroon_secret_key": secrets.token_hex(24),
            "form_secret": secrets.token_hex(24),
            "enable_registration": False,
            "allow_guest_access": False,
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "allow_public_rooms_over_federation": False,
            "presence": {"enabled": False},
            "url_preview_enabled": False,
            "enable_metrics": False,
            "bcrypt_rounds": 4,
            "rc_message": relaxed, "rc_registration": relaxed, "rc_registration_token_validity": relaxed,
            "rc_login": {"address": relaxed, "account": relaxed, "failed_attempts": relaxed},
            "rc_joins": {"local": relaxed, "remote": relaxed}, "rc_joins_per_room": relaxed,
            "rc_invites": {"per_room": relaxed, "per_user": relaxed, "per_issuer": relaxed},
            "rc_admin_redaction": relaxed, "rc_room_creation": relaxed, "rc_3pid_validation": relaxed,
            "rc_third_party_invite": relaxed, "rc_media_create": relaxed, "rc_presence": {"per_user": relaxed},
            "rc_delayed_event_mgmt": relaxed, "rc_reports": relaxed, "rc_user_directory": relaxed,
            "rc_profile": relaxed, "rc_key_requests": relaxed,
        }
        log_config = {
            "version": 1,
            "formatters": {"precise": {"format": "%(asctime)s - %(name)s - %(levelname)s - %(request)s - %(message)s"}},
            "filters": {"context": {"()": "synapse.logging.context.LoggingContextFilter", "request": ""}},
            "handlers": {"file": {"class": "logging.FileHandler", "formatter": "precise",
                                  "filename": str(d / "homeserver.log"), "encoding": "utf8", "filters": ["context"]}},
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
        # JSON is YAML: no YAML writer needed on our side.
        (d / "homeserver.yaml").write_text(json.dumps(config, indent=1))
        (d / "log.config").write_text(json.dumps(log_config, indent=1))
        # Same format as `synapse.app.homeserver --generate-keys`, without its ~2.5 s start-up.
        _run([str(self.venv / "bin" / "python"), "-c",
              "import sys, secrets\n"
              "from signedjson.key import generate_signing_key, write_signing_keys\n"
              "with open(sys.argv[1], 'w') as f:\n"
              "    write_signing_keys(f, [generate_signing_key('a_' + secrets.token_hex(2))])",
              str(d / "signing.key")], "generating the signing key", 60, RuntimeError)
        os.chmod(d / "signing.key", 0o600)

    def _launch(self) -> None:
        out = open(self.data_dir / "stdout.log", "ab")
        try:
            self.process = subprocess.Popen(
                [str(self.venv / "bin" / "python"), "-m", "synapse.app.homeserver",
                 "-c", str(self.data_dir / "homeserver.yaml")],
                cwd=self.data_dir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        finally:
            out.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"synapse exited during start-up (code {self.process.returncode}):\n"
                                   + self.log_tail())
            try:
                if httpx.get(f"{self.url}/_matrix/client/versions", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"synapse not ready after {READY_TIMEOUT:g} s:\n" + self.log_tail())
            time.sleep(0.1)

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for name in ("stdout.log", "homeserver.log"):
            p = self.data_dir / name
            if p.exists():
                out.extend(p.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(out)

    def register(self, name: str, admin: bool = False, display_name: str | None = None) -> MatrixUser:
        """A new account through the shared-secret admin API (what `register_new_matrix_user` does)."""
        password = f"{name}-password"
        with httpx.Client(base_url=self.url, timeout=30) as http:
            nonce = http.get("/_synapse/admin/v1/register").json()["nonce"]
            mac = hmac.new(self.secret.encode(), b"\x00".join(
                [nonce.encode(), name.encode(), password.encode(), b"admin" if admin else b"notadmin"]),
                hashlib.sha1).hexdigest()
            body = {"nonce": nonce, "username": name, "password": password, "admin": admin, "mac": mac}
            if display_name:
                body["displayname"] = display_name
            r = http.post("/_synapse/admin/v1/register", json=body)
            if r.status_code != 200:
                raise RuntimeError(f"could not register {name}: HTTP {r.status_code} {r.text[:200]}")
            data = r.json()
        user = MatrixUser(data["user_id"], data["access_token"], password, display_name or name)
        self.users[name] = user
        return user

    def _register_users(self) -> None:
        for name, admin, display in USERS:
            self.register(name, admin, display)

    def stop(self) -> None:
        p, self.process = self.process, None
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], what: str, timeout: float, error: type[Exception] = SynapseUnavailable) -> None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise error(f"{what} took longer than {timeout:g} s") from None
    except OSError as e:
        raise error(f"{what} failed: {e}") from None
    if r.returncode != 0:
        # pip's last error line says why (no index reachable, no wheel for this Python...).
        lines = [ln for ln in (r.stderr or r.stdout).splitlines() if ln.strip() and "WARNING" not in ln]
        raise error(f"{what} failed: {lines[-1].strip() if lines else f'exit code {r.returncode}'}")


if __name__ == "__main__":
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="groupwatch-synapse-") as tmp:
        server = SynapseServer.start(Path(tmp))
        try:
            print(f"install/cache check {server.install_seconds:.1f} s, start {server.start_seconds:.1f} s, "
                  f"total {time.monotonic() - t0:.1f} s; {server.url}; users {', '.join(server.users)}")
        finally:
            server.stop()
