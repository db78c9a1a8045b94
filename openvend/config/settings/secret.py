"""The embedded default keeps its own random secret key under var/, never in the repository."""

import secrets
from pathlib import Path


def load_or_create_secret_key(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()
