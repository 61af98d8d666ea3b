"""A working copy of the Rasa project for a set of answers, and its training.

The copy lives in ``<KNOWLEDGE_DIR>/<model key>/`` (never the repo's bot/): bot/config.yml,
bot/domain.yml and bot/components/ as shipped, the non-FAQ training data of BOT_DATA_DIR as
it is, and the FAQ answers written from the knowledge. ``rasa train`` runs there in bot/.venv
as a separate process; its model goes to ``<KNOWLEDGE_DIR>/models/knowledge-<key>.tar.gz``.
The key is a hash of everything the model learns from, so the same draft never trains twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

from frontdesk.botmodel import BOT_DIR, rasa_executable
from frontdesk.errors import ConfigError
from frontdesk.knowledge.answers import Answer, other_training_data, training_files
from frontdesk.supervisor import rasa_env

FIXED = ("config.yml", "domain.yml", "requirements.lock")


def understanding_key(answers: dict[str, Answer]) -> str:
    """What the bot learns from answers: which answers there are and their examples. Texts
    and questions are not in it: changing only them needs no training."""
    learned = sorted(
        (a.id, sorted((k, v) for k, v in a.examples.items()))
        for a in answers.values()
        if not a.retired
    )
    return hashlib.sha256(json.dumps(learned, ensure_ascii=False).encode()).hexdigest()[:16]


def project_files(answers: dict[str, Answer], data_dir: Path) -> dict[str, str]:
    """data/… -> YAML text: the training data of the working copy."""
    files = {f"data/{k}": v for k, v in training_files(answers).items()}
    for path in sorted(data_dir.rglob("*.yml")):
        if path.name in ("learned.yml",) or path.parent.name == "knowledge":
            continue
        rest = other_training_data(path)
        if rest is not None:
            files[f"data/{path.relative_to(data_dir)}"] = rest
    return files


def model_key(answers: dict[str, Answer], data_dir: Path) -> str:
    """Names the model: the understanding, the rest of the training data and the bot's
    configuration, components and package versions."""
    digest = hashlib.sha256(understanding_key(answers).encode())
    for name, content in project_files(answers, data_dir).items():
        if not name.startswith("data/knowledge") and "/knowledge.yml" not in name:
            digest.update(name.encode() + b"\0" + content.encode() + b"\0")
    for name in FIXED:
        digest.update((BOT_DIR / name).read_bytes())
    for path in sorted((BOT_DIR / "components").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_name(key: str) -> str:
    return f"knowledge-{key}.tar.gz"


def write_project(work: Path, answers: dict[str, Answer], data_dir: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    (work / "data").mkdir(parents=True)
    for name in ("config.yml", "domain.yml"):
        shutil.copy2(BOT_DIR / name, work / name)
    shutil.copytree(
        BOT_DIR / "components", work / "components", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name, content in project_files(answers, data_dir).items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


Progress = Callable[[str], Awaitable[None]]


async def train(work: Path, models: Path, key: str, progress: Progress) -> Path:
    """Train the working copy in a separate process; each line it prints is progress."""
    await asyncio.to_thread(models.mkdir, parents=True, exist_ok=True)
    out = models / model_name(key)
    command = [
        str(rasa_executable()),
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--data",
        "data",
        "--out",
        str(models),
        "--fixed-model-name",
        out.name,
    ]
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=work,
        env=rasa_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    tail: list[str] = []
    try:
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").strip()
            if line:
                tail = [*tail[-20:], line]
                await progress(line[:300])
        code = await proc.wait()
    except asyncio.CancelledError:
        proc.kill()
        await proc.wait()
        raise
    if code != 0 or not out.is_file():
        raise ConfigError(f"training failed (exit {code}): " + " | ".join(tail[-3:]))
    return out
