"""Guard rules in French, Portuguese and Italian (and more Spanish), beside the English and
German ones in ``rules.py``.

The classifier's n-grams were trained mostly on English and German, so an instruction in
another language relies on these. Written from the common injection families (override,
persona without limits, system-prompt exfiltration, repeat-the-text-above, new instructions,
switched-off filters, tool coercion) and checked against the dev half of
``tests/data/security/multilingual_injections.txt`` and the benign requests of
``tests/data/language`` (the held-out halves are measured by ``switchboard eval guard``).
Product words a customer uses ("instructions to set up SSO", "without limits") do not match.
"""

from __future__ import annotations

from switchboard.guard.rule_model import Rule, rule

ROMANCE_RULES: tuple[Rule, ...] = (
    rule(
        "romance_ignore_instructions",
        r"\b(?:ignore[zs]?|oublie[zs]?|négliger?)\s+(?:toutes\s+|tous\s+)?(?:les\s+|vos\s+|tes\s+|"
        r"ces\s+)?(?:consignes|instructions|règles|directives)\b"
        r"|\b(?:ignore|ignora|esqueça|esquece|desconsidere)\s+(?:todas\s+)?(?:as\s+|suas\s+|"
        r"tuas\s+)?(?:instruções|regras|diretrizes|orientações)\b"
        r"|\b(?:ignora|dimentica|trascura)\s+(?:tutte\s+)?(?:le\s+|tue\s+)?(?:istruzioni|regole|"
        r"direttive|indicazioni)\b",
        "asks (in French, Portuguese or Italian) to ignore the instructions",
    ),
    rule(
        "romance_persona",
        r"\bà\s+partir\s+de\s+maintenant,?\s+(?:tu\s+es|vous\s+êtes|tu\s+seras)\b"
        r"|\bfai(?:s|tes)\s+comme\s+si\s+(?:tu\s+étais|vous\s+étiez)\b"
        r"|\ba\s+partir\s+de\s+agora,?\s+(?:você\s+é|tu\s+és|você\s+será|és)\b"
        r"|\bfinja\s+(?:que\s+)?(?:você\s+é|ser|é)\b"
        r"|\b(?:da\s+(?:ora|adesso)(?:\s+in\s+poi)?|d'ora\s+in\s+poi),?\s+(?:tu\s+)?sei\b"
        r"|\bfai\s+finta\s+di\s+essere\b"
        r"|\b(?:mode|modo|modalità)\s+(?:développeur|desenvolvedor|sviluppatore|desarrollador)\b"
        r"|\b(?:ia|ai|assistente?|bot|modèle|modelo|modello)\s+(?:\w+\s+){0,2}(?:sans|sem|senza|"
        r"sin)\s+(?:aucune\s+|nenhuma\s+|alcuna\s+)?(?:restrictions?|restrições|restrizioni|"
        r"restricciones|filtres?|filtros|filtri|censure|censura|règles|regras|regole|reglas)\b"
        r"|\b(?:réponds|répondez|responde|responda|rispondi|risponda)\s+(?:\w+\s+){0,3}(?:sans|"
        r"sem|senza|sin)\s+(?:censure|censura|filtres?|filtros|filtri)\b",
        "role-play, or a persona without limits (in French, Portuguese, Italian or Spanish)",
    ),
    rule(
        "romance_prompt_exfiltration",
        r"\b(?:affiche[zs]?|montre[zs]?|révèle[zs]?|répète[zs]?|donne[zs]?)\b[^.?!\n]{0,40}"
        r"\b(?:prompt|consignes|instructions)\s+(?:du\s+)?(?:système|cachées|secrètes|internes|"
        r"initiales)"
        r"|\b(?:mostre|revele|repita|diga)\b[^.?!\n]{0,40}\b(?:prompt|instruções\s+(?:internas|"
        r"ocultas|secretas|iniciais|do\s+sistema)|regras\s+internas)"
        r"|\b(?:mostra(?:mi)?|rivela(?:mi)?|ripeti|dimmi)\b[^.?!\n]{0,40}\b(?:prompt|istruzioni\s+"
        r"(?:nascoste|segrete|interne|iniziali|di\s+sistema)|regole\s+interne)"
        r"|\b(?:répète|repite|repita|ripeti)\s+(?:mot\s+pour\s+mot|palabra\s+por\s+palabra|"
        r"palavra\s+por\s+palavra|parola\s+per\s+parola)",
        "asks (in French, Portuguese or Italian) for the system prompt or the text above",
    ),
    rule(
        "romance_new_instructions",
        r"\b(?:nouvelles?\s+(?:instructions?|consignes?)|nuevas\s+instrucciones|novas\s+instruções|"
        r"nuove\s+istruzioni)\s*:"
        r"|\b(?:désactive[zs]?|desactiva|desative|disattiva)\s+(?:tes\s+|vos\s+|les\s+|los\s+|"
        r"os\s+|i\s+)?(?:filtres|filtros|filtri)\b"
        r"|\b(?:llama|usa|ejecuta|appelle|utilise|exécute|chame|execute|chiama|esegui)\s+(?:a\s+)?"
        r"(?:la\s+|l'|o\s+|lo\s+)?(?:herramienta|outil|ferramenta|strumento|función|fonction|"
        r"função|funzione)\s+[`'\"]?[a-z]+_[a-z_]+",
        "new instructions, switched-off filters or a tool call demanded (French, Portuguese, "
        "Italian, Spanish)",
    ),
)
