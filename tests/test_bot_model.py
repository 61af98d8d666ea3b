"""The Rasa project itself: its data validates and its test stories pass on the real model."""

from __future__ import annotations

import subprocess

import aiohttp
import pytest

from frontdesk.botmodel import BOT_DIR, rasa_executable
from frontdesk.supervisor import rasa_env

pytestmark = pytest.mark.rasa


def test_rasa_data_validate_is_clean() -> None:
    result = subprocess.run(
        [str(rasa_executable()), "data", "validate", "--fail-on-warnings"],
        cwd=BOT_DIR,
        env=rasa_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


async def test_test_stories_pass_on_the_served_model(rasa_url: str) -> None:
    stories = (BOT_DIR / "tests" / "test_stories.yml").read_text()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{rasa_url}/model/test/stories?e2e=true",
            data=stories.encode(),
            headers={"Content-Type": "application/x-yaml"},
            timeout=aiohttp.ClientTimeout(total=300),
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()
        evaluation = await resp.json()
    wrong = [a for a in evaluation["actions"] if a["action"] != a["predicted"]]
    assert not wrong, wrong
    assert evaluation["accuracy"] == 1.0
    assert evaluation["is_end_to_end_evaluation"]  # the story text went through NLU


async def test_an_unrelated_question_is_not_answered_confidently(rasa_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for text in ("can you recommend a good pizza place nearby", "asdkjh qwpoe zzxm"):
            async with session.post(f"{rasa_url}/model/parse", json={"text": text}) as resp:
                parsed = await resp.json()
            assert parsed["intent"]["name"] in {"out_of_scope", "nlu_fallback"}, parsed["intent"]
