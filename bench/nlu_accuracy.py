"""Held-out NLU accuracy of the bot's pipeline(s).

Splits bot/data deterministically (80/20, seed 42) with `rasa data split nlu`,
trains an NLU-only model on the training part for each config, evaluates it on the
held-out part with `rasa test nlu` and prints one line per config:

    config.yml          intent acc 0.912  macro F1 0.905  response acc 0.871  train 48s

Runs on any Python 3.11 with PyYAML only; Rasa itself is called as a subprocess
from the bot's virtual environment (bot/.venv, Python 3.10).

    python bench/nlu_accuracy.py                      # config.yml and config.default.yml
    python bench/nlu_accuracy.py --config bot/config.yml
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"
DEFAULT_RASA = BOT / ".venv" / "bin" / "rasa"
DEFAULT_CONFIGS = [BOT / "config.yml", BOT / "config.default.yml"]


@dataclass(frozen=True)
class Result:
    config: str
    intent_accuracy: float
    macro_f1: float
    response_accuracy: float | None
    train_seconds: float


def run_rasa(rasa: Path, args: list[str], cwd: Path) -> None:
    """Run one rasa command; on failure show its output and stop."""
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([str(rasa), *args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"rasa {args[0]} {args[1]} failed (exit {proc.returncode})")


def rasa_version(rasa: Path) -> str:
    proc = subprocess.run([str(rasa), "--version"], capture_output=True, text=True, check=True)
    fields = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in proc.stdout.splitlines())
    )
    return f"rasa {fields.get('Rasa Version', '?')} on Python {fields.get('Python Version', '?')}"


def split_data(rasa: Path, data: Path, work: Path) -> tuple[Path, Path]:
    """Split the NLU data (and the retrieval responses with it) into train/test dirs."""
    out = work / "split"
    run_rasa(
        rasa,
        [
            "data",
            "split",
            "nlu",
            "-u",
            str(data),
            "--training-fraction",
            "0.8",
            "--random-seed",
            "42",
            "--out",
            str(out),
        ],
        cwd=work,
    )
    train, test = work / "train", work / "test"
    for part, target in (("training", train), ("test", test)):
        target.mkdir()
        # the nlg_* files hold the responses of the retrieval intents in that part
        for name in (f"{part}_data.yml", f"nlg_{part}_data.yml"):
            if (out / name).exists():
                shutil.copy(out / name, target / name)
    return train, test


def count_examples(folder: Path) -> int:
    total = 0
    for path in folder.glob("*.yml"):
        doc = yaml.safe_load(path.read_text()) or {}
        for item in doc.get("nlu", []):
            if "intent" in item:
                total += sum(
                    1
                    for line in str(item["examples"]).splitlines()
                    if line.strip().startswith("- ")
                )
    return total


def evaluate(rasa: Path, config: Path, domain: Path, train: Path, test: Path, work: Path) -> Result:
    name = config.stem.replace(".", "_")  # rasa mangles dotted model names
    models, results = work / "models" / name, work / "results" / name
    started = time.monotonic()
    run_rasa(
        rasa,
        [
            "train",
            "nlu",
            "-c",
            str(config),
            "-d",
            str(domain),
            "-u",
            str(train),
            "--out",
            str(models),
            "--fixed-model-name",
            name,
        ],
        cwd=work,
    )
    train_seconds = time.monotonic() - started
    run_rasa(
        rasa,
        [
            "test",
            "nlu",
            "-u",
            str(test),
            "-m",
            str(models / f"{name}.tar.gz"),
            "--out",
            str(results),
        ],
        cwd=work,
    )
    intents = json.loads((results / "intent_report.json").read_text())
    response_accuracy = None
    response_report = results / "response_selection_report.json"
    if response_report.exists():
        response_accuracy = float(json.loads(response_report.read_text())["accuracy"])
    return Result(
        config=config.name,
        intent_accuracy=float(intents["accuracy"]),
        macro_f1=float(intents["macro avg"]["f1-score"]),
        response_accuracy=response_accuracy,
        train_seconds=train_seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config",
        action="append",
        type=Path,
        help="pipeline config to evaluate (repeatable; default: config.yml and config.default.yml)",
    )
    parser.add_argument("--data", type=Path, default=BOT / "data")
    parser.add_argument("--domain", type=Path, default=BOT / "domain.yml")
    parser.add_argument("--rasa", type=Path, default=DEFAULT_RASA)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    configs: list[Path] = [c.resolve() for c in (args.config or DEFAULT_CONFIGS)]

    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"bench on Python {platform.python_version()}, {rasa_version(args.rasa)}"
    )
    work = Path(tempfile.mkdtemp(prefix="nlu-accuracy-"))
    try:
        train, test = split_data(args.rasa, args.data.resolve(), work)
        print(
            f"data: {count_examples(train)} training / {count_examples(test)} "
            "held-out examples (rasa data split nlu, 0.8, seed 42)"
        )
        for config in configs:
            r = evaluate(args.rasa, config, args.domain.resolve(), train, test, work)
            response = "n/a" if r.response_accuracy is None else f"{r.response_accuracy:.3f}"
            print(
                f"{r.config:<20} intent acc {r.intent_accuracy:.3f}  "
                f"macro F1 {r.macro_f1:.3f}  response acc {response}  "
                f"train {r.train_seconds:.0f}s",
                flush=True,
            )
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
