"""Which language a customer writes in: clear messages switch, unclear ones never do."""

from __future__ import annotations

import pytest

from frontdesk.core.language import detect


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Здравствуйте", "ru"),
        ("Как вернуть товар?", "ru"),
        ("где моя посылка", "ru"),
        ("¿Cómo puedo devolver un producto?", "es"),
        ("hola", "es"),
        ("no me llega el reembolso", "es"),
        ("quiero hablar con una persona", "es"),
        ("where's my stuff", "en"),
        ("my package hasnt arrived yet", "en"),
        ("discount code does not work", "en"),
    ],
)
def test_clear_messages_name_their_language(text: str, language: str) -> None:
    assert detect(text) == language


@pytest.mark.parametrize(
    "text", ["ok", "1234", "#3310", "ana@example.com", "PayPal", "no", "?", "order 1042"]
)
def test_unclear_messages_switch_nothing(text: str) -> None:
    assert detect(text) is None
