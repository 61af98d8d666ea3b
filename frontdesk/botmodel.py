"""The trained Rasa model, cached by a hash of its inputs; trains only when they change."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from frontdesk.config import ROOT
from frontdesk.errors import ConfigError

BOT_DIR = ROOT / "bot"
MODELS_DIR = BOT_DIR / "models"


def rasa_executable() -> Path:
    venv = Path(os.environ.get("RASA_VENV", BOT_DIR / ".venv"))
    rasa = venv / "bin" / "rasa"
    if not rasa.is_file():
        raise ConfigError(f"Rasa is not installed at {rasa}: run `make bot-venv` (or `make run`)")
    return rasa


def model_inputs(config: str = "config.yml") -> list[Path]:
    """Everything a trained model depends on: config, domain, data, the custom components'
    code and the exact package versions."""
    data = sorted((BOT_DIR / "data").rglob("*.yml"))
    code = sorted((BOT_DIR / "components").glob("*.py"))
    fixed = [BOT_DIR / config, BOT_DIR / "domain.yml", BOT_DIR / "requirements.lock"]
    return [*fixed, *data, *code]


def model_hash(config: str = "config.yml") -> str:
    digest = hashlib.sha256()
    for path in model_inputs(config):
        if not path.is_file():
            raise ConfigError(f"the bot is missing {path}")
        digest.update(str(path.relative_to(BOT_DIR)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(config: str = "config.yml") -> Path:
    return MODELS_DIR / f"{Path(config).stem}-{model_hash(config)}.tar.gz"


def ensure_model(config: str = "config.yml", quiet: bool = False) -> Path:
    """Return the model for these inputs, training it first if it is not cached."""
    path = model_path(config)
    if path.is_file():
        if not quiet:
            print(f"Rasa model up to date: {path.relative_to(ROOT)}", flush=True)
        return path
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    print(f"Training the Rasa model ({config}); this takes a minute or two…", flush=True)
    command = [
        str(rasa_executable()),
        "train",
        "--config",
        config,
        "--domain",
        "domain.yml",
        "--data",
        "data",
        "--out",
        str(MODELS_DIR),
        "--fixed-model-name",
        # with the suffix: Rasa would otherwise cut a name like config.default-<hash> at the dot
        path.name,
    ]
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run(command, cwd=BOT_DIR, env=env, stdout=sys.stdout, stderr=sys.stderr)
    if result.returncode != 0 or not path.is_file():
        raise ConfigError(f"training the Rasa model failed (exit {result.returncode})")
    _forget_older(path)
    return path


def _forget_older(path: Path, keep: int = 2) -> None:
    """Keep the newest few models of one config (about 60 MB each), remove the rest."""
    stem = path.name[: -len(".tar.gz") - 17]  # "<config stem>" without "-<16 hex>"
    same = sorted(
        (p for p in MODELS_DIR.glob(f"{stem}-*.tar.gz") if len(p.name) == len(path.name)),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in same[keep:]:
        old.unlink(missing_ok=True)
