"""Which language a request is in: English, Spanish, French, German, Portuguese, Italian, or a
language written in another script (Chinese, Japanese, Korean, Russian, Arabic, Hindi...).

The embedding model (all-MiniLM-L6-v2) is English-only: a Spanish question lands near
unrelated English text, so the router calls it out of scope. The supervisor therefore asks
first whether a request is English (``docs/routing.md``). This is deliberately cheap: a
word-list vote, a few microseconds, no model. Each language has a list of function words
and very common request words; a few characters (``ñ ¿ ¡``, ``ß``, ``ã õ``, ``ç``...) add
evidence. A request is called non-English only when that language clearly outvotes English,
so English text with a foreign name or word in it ("Can I pay in euros at the Café Müller?")
stays English: wrongly refusing English costs more than missing a foreign request.

Measured by ``switchboard eval language`` (``devtools/evals/language.py``): sentences written for
the purpose in each language, a dev and a held-out half, and the English of CLINC150 and
SGD for the false-positive rate.

Requests written mostly in a script other than Latin are told apart by the script of their
letters (their Unicode names), before any word vote: a Russian or Chinese request shares no word
with any list and used to be read as English, routed by an English model and told it was out
of scope. A script that one language writes names that language (Hangul: Korean; kana:
Japanese; Greek, Hebrew, Thai...); Han without kana is taken as Chinese; a script shared by
many languages (Cyrillic, Arabic, Devanagari) gets an undetermined-language tag
(``und-Cyrl``: BCP 47), since telling Russian from Ukrainian is beyond a cheap guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from switchboard.guard.scripts import script_of

ENGLISH = "en"
LANGUAGES = ("en", "es", "fr", "de", "pt", "it")
# The first word of a letter's Unicode name -> (language tag, name) for requests written in it.
_SCRIPTS: dict[str, tuple[str, str]] = {
    "CJK": ("zh", "Chinese"),
    "HIRAGANA": ("ja", "Japanese"),
    "KATAKANA": ("ja", "Japanese"),
    "HANGUL": ("ko", "Korean"),
    "GREEK": ("el", "Greek"),
    "HEBREW": ("he", "Hebrew"),
    "THAI": ("th", "Thai"),
    "GEORGIAN": ("ka", "Georgian"),
    "ARMENIAN": ("hy", "Armenian"),
    "KHMER": ("km", "Khmer"),
    "LAO": ("lo", "Lao"),
    "MYANMAR": ("my", "Burmese"),
    "SINHALA": ("si", "Sinhala"),
    "TAMIL": ("ta", "Tamil"),
    "TELUGU": ("te", "Telugu"),
    "KANNADA": ("kn", "Kannada"),
    "MALAYALAM": ("ml", "Malayalam"),
    "GUJARATI": ("gu", "Gujarati"),
    "GURMUKHI": ("pa", "Punjabi"),
    "ETHIOPIC": ("am", "Amharic"),
    "CYRILLIC": ("und-Cyrl", "a Cyrillic-script language"),
    "ARABIC": ("und-Arab", "an Arabic-script language"),
    "DEVANAGARI": ("und-Deva", "a Devanagari-script language"),
    "BENGALI": ("und-Beng", "a Bengali-script language"),
}
NAMES: dict[str, str] = {
    **{tag: name for tag, name in _SCRIPTS.values()},
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "pt": "Portuguese",
    "it": "Italian",
}

SCRIPT_SHARE = 0.5  # the share of a request's letters a script needs to name its language
MIN_SCRIPT_LETTERS = 2
# A Han character or a Hangul syllable says about as much as a short Latin word, not a letter:
# "Brightlaneの料金は" is Japanese although it has more Latin letters than Japanese ones.
_WIDE = {"CJK": 3, "HIRAGANA": 3, "KATAKANA": 3, "HANGUL": 3}

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the a an and or but is are was were be been am i you he she we they it my your our "
        "their me us them this that these those what which who whom whose when where why how "
        "can could would should will shall do does did done have has had not no yes to of in "
        "on at for with from by about into over after before up down out if then than there "
        "here please thanks thank hi hello get got need want like just also any some all "
        "as whats i'm don't can't it's doesn't didn't won't isn't i've i'll"
    ),
    "es": _words(
        "el la los las un una unos unas y o a pero es son está están estoy era fue ser estar "
        "yo tú usted ustedes él ella nosotros mi mis tu tus su sus nuestro nuestra me te se "
        "nos le les lo qué cuál cuáles quién cómo cuándo dónde por porque para con sin sobre "
        "de del al en que no sí muy más también ya hay puedo puede pueden quiero quisiera "
        "necesito tengo tiene tenemos hacer hola gracias favor cuenta pagar pago factura "
        "contraseña ayuda cancelar suscripción mes año cuánto cuesta esto este esta ese eso "
        "mi porqué dónde olvidé cambiar cobrado cobraron dos veces buenos días buenas tardes "
        "todavía aparece llegan puedes podemos"
    ),
    "fr": _words(
        "le la les un une des et ou mais est sont suis était être avoir je tu il elle nous "
        "vous ils elles mon ma mes ton ta tes son sa ses notre votre leur me te se lui leur "
        "y en ce cet cette ces quel quelle quels quelles qui que quoi comment quand où "
        "pourquoi pour avec sans sur dans du de au aux pas ne oui non très plus aussi déjà "
        "il y peux peut pouvez puis veux voudrais voulez besoin ai avez avons faire bonjour "
        "merci compte payer paiement facture mot passe aide annuler abonnement mois "
        "combien coûte c'est j'ai qu'est s'il plaît bonsoir une deux fois encore toujours "
        "ne n'est arrive"
    ),
    "de": _words(
        "der die das den dem des ein eine einen einem einer und oder aber ist sind bin war "
        "sein haben ich du er sie es wir ihr mein meine meinen dein deine unser unsere euer "
        "mich dich sich uns mir dir ihm ihnen was welche welcher wer wie wann wo warum für "
        "mit ohne auf in im ins von vom zu zum zur nicht kein keine ja nein sehr auch schon "
        "noch kann können könnte möchte will wollen muss brauche habe hat hallo danke bitte "
        "konto zahlen zahlung rechnung passwort hilfe kündigen abo monat jahr kostet wieso "
        "weshalb gibt es mehr guten tag morgen abend vom zum beim wurde wurden"
    ),
    "pt": _words(
        "o a os as um uma uns umas e ou mas é são está estão estou era foi ser estar eu tu "
        "você vocês ele ela nós meu minha meus minhas seu sua seus suas nosso nossa me te se "
        "nos lhe que qual quais quem como quando onde porque por para com sem sobre de do da "
        "dos das no na nos nas em não sim muito mais também já há posso pode podem quero "
        "gostaria preciso tenho tem temos fazer olá obrigado obrigada favor conta pagar "
        "pagamento fatura senha ajuda cancelar assinatura mês ano quanto custa isso isto "
        "esse essa esqueci minha cobrado cobraram duas vezes bom dia boa tarde vocês consigo "
        "ainda aparece chegam"
    ),
    "it": _words(
        "il lo la i gli le un uno una e o ma è sono era essere avere io tu lui lei noi voi "
        "loro mio mia miei mie tuo tua suo sua nostro nostra mi ti si ci vi gli che quale "
        "quali chi come quando dove perché per con senza su di del della dei delle al alla "
        "in nel nella non sì molto più anche già c'è posso può possono voglio vorrei ho "
        "hai ha abbiamo bisogno fare ciao grazie favore conto pagare pagamento fattura "
        "password aiuto annullare abbonamento mese anno quanto costa questo questa "
        "dimenticato addebitato due volte buongiorno buonasera salve potete riesco esiste "
        "dal dalla dallo quella quello dello nello sulla allo agli degli ancora compare"
    ),
}

# Letters each language writes that English does not (a vote each when present).
_MARKS: dict[str, str] = {
    "es": "ñ¿¡áéíóú",
    "de": "ßäöü",
    "pt": "ãõáéíóúâêôàç",
    "fr": "çœûêîôëéèàâù",
    "it": "àèéìòù",
}
MARK_VOTE = 1.0
# Elided articles and pronouns ("l'api", "j'ai", "un'app", "dell'account").
_ELISION = {
    "fr": re.compile(r"(?<![\w'])(?:l|d|j|qu|c|n|s|m|t|jusqu|lorsqu)'(?=\w)"),
    "it": re.compile(r"(?<![\w'])(?:l|un|dell|all|nell|sull|dall|quell|c)'(?=\w)"),
}
MIN_WORDS_HIT = 2  # a foreign language needs at least this many of its words (marks count)


@dataclass(frozen=True)
class LanguageGuess:
    language: str  # ISO 639-1 code
    confidence: float  # share of the votes the winner got (0..1)

    @property
    def english(self) -> bool:
        return self.language == ENGLISH

    @property
    def name(self) -> str:
        return NAMES.get(self.language, self.language)


def _by_script(text: str) -> LanguageGuess | None:
    """The language of a request written mostly in a script other than Latin, else None."""
    counts: dict[str, int] = {}  # letters per script
    weights: dict[str, float] = {}  # ... weighted (_WIDE)
    total = 0.0
    for ch in text:
        if not ch.isalpha():
            continue
        script = "LATIN" if ch.isascii() else script_of(ch)
        weight = _WIDE.get(script, 1)
        total += weight
        if script in _SCRIPTS:
            counts[script] = counts.get(script, 0) + 1
            weights[script] = weights.get(script, 0.0) + weight
    if not counts:
        return None
    if "HIRAGANA" in counts or "KATAKANA" in counts:  # Japanese mixes kana and kanji
        japanese = ("HIRAGANA", "KATAKANA", "CJK")
        counts["HIRAGANA"] = sum(counts.pop(k, 0) for k in japanese)
        weights["HIRAGANA"] = sum(weights.pop(k, 0.0) for k in japanese)
    script = max(weights, key=lambda k: weights[k])
    if counts[script] < MIN_SCRIPT_LETTERS or weights[script] < SCRIPT_SHARE * total:
        return None
    return LanguageGuess(_SCRIPTS[script][0], round(weights[script] / total, 4))


def detect_language(text: str) -> LanguageGuess:
    """The language ``text`` is most likely in (English when unsure)."""
    scripted = _by_script(text)
    if scripted is not None:
        return scripted
    lowered = text.casefold()
    words = _WORD.findall(lowered)
    votes = {lang: sum(1.0 for w in words if w in vocab) for lang, vocab in _WORDS.items()}
    for lang, marks in _MARKS.items():
        if any(ch in lowered for ch in marks):
            votes[lang] += MARK_VOTE
    for lang, elision in _ELISION.items():
        votes[lang] += len(elision.findall(lowered))
    total = sum(votes.values())
    if total == 0:
        return LanguageGuess(ENGLISH, 0.0)
    best = max(LANGUAGES, key=lambda lang: (votes[lang], lang == ENGLISH))
    share = votes[best] / total
    if best == ENGLISH or votes[best] < MIN_WORDS_HIT or votes[best] <= votes[ENGLISH]:
        return LanguageGuess(ENGLISH, votes[ENGLISH] / total)
    return LanguageGuess(best, round(share, 4))
