"""Settings from the environment, with defaults that work on a fresh machine."""

import os
import secrets
from pathlib import Path


def _env_int(name: str, default: int, low: int | None = None, high: int | None = None) -> int:
    value = os.environ.get(name)
    number = int(value) if value else default
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{name} must be from {low} to {high}, not {number}")
    return number


def data_dir() -> Path:
    return Path(os.environ.get("DATA_DIR", "data")).resolve()


def private_dir(path: str | Path) -> Path:
    """A directory only this account can enter, created so from the start (an existing one is
    left as the operator set it)."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def secret_key(directory: Path) -> str:
    """A random key generated once and kept in data/, so sessions survive restarts."""
    path = directory / "secret_key"
    if not path.exists():
        # Written whole under a name of its own, created readable by this account only, then
        # linked into place: never readable by others, and a process starting at the same
        # moment reads the whole key of whichever linked first, never a half-written file.
        draft = directory / f".secret_key.{secrets.token_hex(8)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def defaults() -> dict:
    directory = data_dir()
    return {
        "DATA_DIR": str(directory),
        "DATABASE": str(directory / "spaces.db"),
        "RECORDINGS_DIR": str(directory / "recordings"),
        "PICTURES_DIR": str(directory / "pictures"),
        "HOST": os.environ.get("HOST", "127.0.0.1"),
        "PORT": _env_int("PORT", 5000),
        "TRUSTED_PROXIES": _env_int("TRUSTED_PROXIES", 0),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SECURE_COOKIES", "") == "1",
        "PERMANENT_SESSION_LIFETIME": 60 * 60 * 24 * 30,
        "API_TOKEN_DAYS": float(os.environ.get("API_TOKEN_DAYS", "30")),
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_ENABLED": os.environ.get("RATELIMIT_ENABLED", "1") == "1",
        "RATELIMIT_STORAGE_URI": "memory://",  # REDIS_URL, when set (app.configure)
        # While Redis is down each node counts on its own rather than refuse or fail requests.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": False,
        "PRESENCE_GRACE_SECONDS": float(os.environ.get("PRESENCE_GRACE_SECONDS", "10")),
        # Several nodes: room events, presence, rate-limit counters and the purge's lock shared
        # through this Redis (README, "How it scales"). Unset: one process, nothing to start.
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        # How long a node's sockets keep their people present in Redis after it stops renewing
        # (it died); it renews every third of it.
        "PRESENCE_TTL_SECONDS": float(os.environ.get("PRESENCE_TTL_SECONDS", "10")),
        # Edge nodes serving listeners' audio (spaces/edge), comma separated base URLs (ws://...,
        # or / behind a proxy that routes by the grant); unset: the core serves every socket.
        "EDGE_URLS": os.environ.get("EDGE_URLS", ""),
        # Frames (20 ms each) per message to a v2 listener: fewer, larger messages carry more
        # listeners per core, and the first frame of each waits (frames - 1) x 20 ms longer.
        "AUDIO_LISTENER_FRAMES": _env_int("AUDIO_LISTENER_FRAMES", 3, 1, 50),
        # Listeners' audio written by a process of its own (spaces/realtime/listener_relay.py).
        "LISTENER_RELAY": os.environ.get("LISTENER_RELAY", "1") == "1",
        # Listeners' sockets the relay reads and writes at most (no thread each; a descriptor in
        # both processes); past it a listener's socket holds a server thread, as a speaker's does.
        "LISTENER_RELAY_SOCKETS": _env_int("LISTENER_RELAY_SOCKETS", 10000),
        "SECRET_KEY": os.environ.get("SECRET_KEY", ""),  # unset: DATA_DIR/secret_key (app.py)
        "HOST_AWAY_MINUTES": float(os.environ.get("HOST_AWAY_MINUTES", "10")),
        "LISTENERS_SHOWN": _env_int("LISTENERS_SHOWN", 60),
        "REQUESTS_IN_FLIGHT": _env_int("REQUESTS_IN_FLIGHT", 4),
        "SOCKETS_PER_ACCOUNT": _env_int("SOCKETS_PER_ACCOUNT", 4),  # per Space, per kind
        "SOCKETS_PER_ADDRESS": _env_int("SOCKETS_PER_ADDRESS", 32),  # 0: no cap
        "REQUEST_TIMEOUT": float(os.environ.get("REQUEST_TIMEOUT", "5")),
        "SERVER_THREADS": _env_int("SERVER_THREADS", 4000),
        "SERVER_CONNECTIONS": _env_int("SERVER_CONNECTIONS", 4500),
        "PURGE_SECONDS": float(os.environ.get("PURGE_SECONDS", "600")),
        # How often scheduled Spaces are checked (host told it is due, cancelled at +60 min).
        "SCHEDULE_TICK_SECONDS": float(os.environ.get("SCHEDULE_TICK_SECONDS", "30")),
        # A socket's client that reads nothing for this long while we have something for it is
        # cut off (realtime/outbox.py), so it holds no thread or buffer for ever.
        "SOCKET_SEND_TIMEOUT": float(os.environ.get("SOCKET_SEND_TIMEOUT", "10")),
        "SOCK_SERVER_OPTIONS": {"ping_interval": None, "max_message_size": 4096},
        "CAPTIONS_ENABLED": os.environ.get("CAPTIONS", "1") == "1",
        "CAPTION_MODEL": os.environ.get("CAPTION_MODEL", ""),
        "CAPTION_DEVICE": os.environ.get("CAPTION_DEVICE", "cpu"),
        "CAPTION_COMPUTE_TYPE": os.environ.get("CAPTION_COMPUTE_TYPE", "int8"),
        "CAPTION_BEAM_SIZE": _env_int("CAPTION_BEAM_SIZE", 1),
        "CAPTION_THREADS": _env_int("CAPTION_THREADS", 1),
        "BACKGROUND_WORKERS": True,
    }
