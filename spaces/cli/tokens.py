"""Tokens, one per server, in ~/.config/spaces/tokens.json (or the file named by $SPACES_CONFIG).

The file is readable by its owner only (0600): a token signs in as you.
"""

import contextlib
import json
import os
from pathlib import Path

from .exits import EXIT_REFUSED, CliError


def config_path() -> Path:
    explicit = os.environ.get("SPACES_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "spaces" / "tokens.json"


def load(path: Path | None = None) -> dict:
    path = path or config_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {"servers": {}}
    except (OSError, ValueError) as exc:
        raise CliError(f"Cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
        return {"servers": {}}
    return data


def save_token(server: str, token: str, username: str, path: Path | None = None) -> Path:
    """Stores the token for `server` (a base URL), replacing any earlier one; returns the file."""
    path = path or config_path()
    data = load(path)
    data["servers"][server] = {"token": token, "username": username}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    path.chmod(0o600)
    return path


def token_for(server: str, path: Path | None = None) -> tuple[str, str]:
    """(token, username) for `server`, or a CliError telling how to sign in."""
    entry = load(path)["servers"].get(server)
    if not entry or not entry.get("token"):
        raise CliError(
            f"You are not signed in to {server}. Run: spaces login {server}", EXIT_REFUSED
        )
    return entry["token"], entry.get("username", "")
