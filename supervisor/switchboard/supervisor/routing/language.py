"""Requests not in English: Claude routes them, or offline the reply says English only.

The embedding router and the agents' retrieval use an English-only model (all-MiniLM-L6-v2):
a Spanish "¿Puedo pagar con PayPal?" lands nowhere near the billing cards and used to be
told "Sorry, that is outside what I can help with". Each request's language is guessed first
(``switchboard.guard.language``, a word-list vote, microseconds). A request that is clearly
not English:

* with Claude configured: skips the embedding router (its confidence means nothing here) and
  is routed by Claude from the cards; the agent answers it with Claude as usual;
* offline, or when Claude fails: is not routed. The reply (status NEEDS_CLARIFICATION, route
  method ``unsupported_language``) says plainly that offline mode answers English only, in
  the request's language for es/fr/de/pt/it/zh/ja/ko (in English for the other scripts the
  guess tells apart: Cyrillic, Arabic, Greek, Hebrew, Devanagari, Thai...).

Either way the ``switchboard.requests.language`` counter counts it by language and handling.
"""

from __future__ import annotations

from switchboard.core.context import Deadline
from switchboard.core.embeddings import Vector
from switchboard.guard.language import LanguageGuess, detect_language
from switchboard.supervisor.metrics import SupervisorMetrics
from switchboard.supervisor.routing.router import Method, Router, RouteResult

ENGLISH_ONLY = {
    "en": "Sorry, in offline mode I can only answer questions written in English. "
    "Could you ask again in English?",
    "es": "Lo siento, en el modo sin conexión solo puedo responder preguntas escritas en "
    "inglés. ¿Podría hacer la pregunta en inglés? (Offline mode answers English only.)",
    "fr": "Désolé, en mode hors ligne je ne peux répondre qu'aux questions écrites en "
    "anglais. Pourriez-vous poser la question en anglais ? (Offline mode answers English "
    "only.)",
    "de": "Entschuldigung, im Offline-Modus kann ich nur Fragen auf Englisch beantworten. "
    "Könnten Sie die Frage auf Englisch stellen? (Offline mode answers English only.)",
    "pt": "Desculpe, no modo offline só consigo responder a perguntas escritas em inglês. "
    "Pode fazer a pergunta em inglês? (Offline mode answers English only.)",
    "it": "Mi dispiace, in modalità offline posso rispondere solo a domande scritte in "
    "inglese. Può fare la domanda in inglese? (Offline mode answers English only.)",
    "zh": "抱歉，离线模式下我只能回答用英文提出的问题。能否请您用英文重新提问？"
    "(Offline mode answers English only.)",
    "ja": "申し訳ありませんが、オフラインモードでは英語で書かれた質問にのみお答えできます。"
    "英語でもう一度ご質問いただけますか？(Offline mode answers English only.)",
    "ko": "죄송합니다. 오프라인 모드에서는 영어로 작성된 질문에만 답변할 수 있습니다. "
    "영어로 다시 질문해 주시겠어요? (Offline mode answers English only.)",
}


def english_only_message(language: str) -> str:
    """The offline reply to a non-English request, in its language when we have it."""
    return ENGLISH_ONLY.get(language, ENGLISH_ONLY["en"])


class LanguagePolicy:
    """Detects a request's language and routes a non-English one (see the module doc)."""

    def __init__(self, router: Router, metrics: SupervisorMetrics | None = None) -> None:
        self._router = router
        self._metrics = metrics

    @staticmethod
    def detect(text: str) -> LanguageGuess:
        return detect_language(text)

    async def route(
        self, text: str, query: Vector, guess: LanguageGuess, deadline: Deadline
    ) -> RouteResult:
        """The route of a request in ``guess.language`` (not English)."""
        if self._router.has_llm:
            decided = await self._router.ask_llm(text, query, timeout=deadline.remaining())
            if decided is not None:
                decided.language = guess.language
                decided.reason = f"{guess.name} request, routed by Claude: {decided.reason}"
                self._count(guess, "claude")
                return decided
        self._count(guess, "english_only")
        return RouteResult(
            None,
            guess.confidence,
            Method.UNSUPPORTED_LANGUAGE,
            [],
            f"the request is in {guess.name} ({guess.language}); offline mode answers English only",
            query,
            language=guess.language,
        )

    def _count(self, guess: LanguageGuess, handling: str) -> None:
        if self._metrics is not None:
            self._metrics.record_language(guess.language, handling)
