"""Which of the product's languages (English, Russian, Spanish) a customer's message is in.

The conversation's language comes from the widget or the channel; a message clearly written in
another of our languages switches it (a customer writing Russian on an English page is answered
in Russian). "Clearly" is deliberately strict: a lone "ok", an order number or an e-mail
address never switches anything. Three languages with different scripts and very different
function words need no statistical model: Cyrillic letters say Russian; Spanish and English
are told apart by their most frequent words and by Spanish letters (ñ, accents, ¿ ¡).
"""

from __future__ import annotations

import re

WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
CYRILLIC = re.compile("[\u0430-\u044f\u0451]", re.IGNORECASE)  # Cyrillic letters
LATIN = re.compile(r"[a-zñáéíóúü]", re.IGNORECASE)
SPANISH_LETTERS = re.compile(r"[ñ¿¡áéíóú]", re.IGNORECASE)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Frequent words of each language that are not words of the other (nor shop vocabulary
# shared by both, such as "no", "ok", "email", "paypal").
SPANISH = _words(
    """
    el la los las un una unos unas del al de que y o en es son está están estoy esta este
    esto eso mi mis tu tus su sus por para con sin como cómo cuando cuándo donde dónde
    qué quien quién cual cuál cuanto cuánto cuánta hola buenas buenos dias días tardes
    noches gracias quiero quisiera necesito puedo puede pueden hay tengo tiene tienen
    te se le lo nos pero porque pq xq q si sí aún todavía muy más menos también hacer
    pedido pedidos compra paquete envío envio devolución devolucion reembolso factura
    cuenta contraseña dinero plata tarjeta pago llegó llego llega cuándo favor porfa ayuda
    hablar persona agente adiós adios chau vale bueno claro dónde mío mía ayer hoy mañana
    semana semanas días hace cancelar cambiar enviar recibir recibí recibi código codigo
    """
)
ENGLISH = _words(
    """
    the an of and or in is are am was were be been my your his her its our their to for
    with without how when where what who which why can could would should will do does did
    don't dont i'm im it's its this that these those have has had get got hi hello hey
    thanks thank please pls want need order orders package parcel refund invoice account
    password money card payment arrived arrive delivery shipping return cancel change send
    received receive help talk person agent bye goodbye yes yeah not still yet already
    where's what's isn't haven't hasn't didn't can't cannot i you it we they there
    from at on by about just my stuff code discount
    """
)


def detect(text: str) -> str | None:
    """'en', 'ru' or 'es' when the message clearly is in that language; else None."""
    lowered = text.lower()
    cyrillic = len(CYRILLIC.findall(lowered))
    latin = len(LATIN.findall(lowered))
    if cyrillic >= 3 and cyrillic >= latin:
        return "ru"
    if latin < 3:
        return None
    words = WORD.findall(lowered)
    spanish = sum(1 for w in words if w in SPANISH)
    english = sum(1 for w in words if w in ENGLISH)
    if SPANISH_LETTERS.search(lowered):
        spanish += 1
    if spanish >= 1 and spanish > english:
        return "es"
    if english >= 2 and english > spanish:
        return "en"
    if english == 1 and spanish == 0 and len(words) <= 3 and len(words) >= 2:
        return "en"
    return None
