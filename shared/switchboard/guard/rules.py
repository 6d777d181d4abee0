"""Phrase rules for prompt injection: high precision, each with a name that becomes the reason.

Rules are the first line: they explain themselves ("rule:ignore_instructions") and catch the
classics regardless of how the classifier was trained. They are written to stay quiet on
ordinary support requests that merely mention "instructions", "ignore", "password" or "admin"
("Please ignore my previous ticket", "Where are the setup instructions for Jira?"), so a match
blocks on its own. The classifier covers paraphrases the rules do not.

Two scopes:
- ``user``: rules for text a person typed (direct injection);
- ``indirect``: every ``user`` rule plus rules for instructions addressed to an AI inside
  retrieved documents and tool outputs ("Note to the AI model reading this: ...").
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.guard.rule_model import Rule, Scope
from switchboard.guard.rule_model import rule as _rule
from switchboard.guard.rules_romance import ROMANCE_RULES

__all__ = ["RULES", "Rule", "RuleHit", "Scope", "match_rules"]

# Words for what an attacker wants the model to drop.
_TARGETS = (
    r"(?:instructions?|prompts?|rules|directions|guidelines|guidance|context|tasks?|commands?|"
    r"constraints|programming|restrictions|orders|policies|polic(?:y)|directives?|"
    r"system\s+(?:prompt|message)|conversation)"
)
_AI = r"(?:ai|a\.i\.|assistant|chat\s*bot|chatbot|bot|language\s+model|llm|model|gpt|agent|ki)"


RULES: tuple[Rule, ...] = (
    # --- Direct override ------------------------------------------------------------------
    _rule(
        "ignore_instructions",
        r"\b(?:ignore|disregard|forget|skip|override|overrule|bypass|abandon|drop|discard)\b"
        r"[^.!?\n]{0,40}?\b(?:previous|prior|above|earlier|preceding|former|original|initial|"
        r"old|all|your|its|their|any|these|those|every|the)\b[^.!?\n]{0,25}?\b" + _TARGETS + r"\b",
        "asks the model to ignore its previous instructions",
    ),
    _rule(
        "stop_following",
        r"\bstop\s+(?:following|obeying)\s+(?:your|the|its)\b"
        r"|\bstop\s+being\s+an?\s+(?:\w+\s+)?(?:assistant|bot|agent|ai)\b",
        "tells the model to stop following its instructions",
    ),
    _rule(
        "forget_everything",
        r"\b(?:forget|ignore|disregard)\s+(?:about\s+)?(?:everything|all\s+(?:of\s+)?"
        r"(?:that|this|the\s+above|above|before|previous|prior|said))\b"
        r"|\bforget\s+all\s+(?:previous|prior|your|the)\b",
        "asks the model to forget everything said before",
    ),
    _rule(
        "new_instructions",
        r"\bnew\s+(?:system\s+)?(?:instructions?|rules|task|directives?|orders)\s*(?::|follow\b)"
        r"|\byour\s+(?:new|real|actual|only|next)\s+(?:task|goal|job|instructions?|rules|purpose)"
        r"\s*(?::|is\b|are\b)"
        r"|\byour\s+(?:instructions|rules|programming)\s+(?:have|has)\s+(?:changed|been\s+updated)"
        r"|\b(?:instructions|rules)\s+(?:are|have\s+been)\s+(?:revoked|deprecated|void|cancelled)"
        r"|\byou\s+(?:must|will)\s+now\s+(?:follow|obey)\b",
        "announces new instructions that replace the model's own",
    ),
    # --- System prompt exfiltration ---------------------------------------------------------
    _rule(
        "prompt_exfiltration",
        r"\b(?:reveal|show|print|repeat|output|display|dump|leak|spell\s+out|give\s+me|tell\s+me|"
        r"list|share|translate|encode|paste|copy|write\s+out|(?:reply|respond|answer)\s+with|"
        r"what\s+(?:is|are|were))\b"
        r"[^.?!\n]{0,40}?\b(?:(?:your|the|its)\s+)?(?:full\s+|entire\s+|exact\s+|complete\s+|"
        r"original\s+|initial\s+|hidden\s+|secret\s+|internal\s+)*"
        r"(?:system\s+(?:prompt|message)|initial\s+prompt|initial\s+instructions|"
        r"original\s+instructions|hidden\s+(?:instructions|rules|prompt)|secret\s+instructions|"
        r"instructions\s+you\s+were\s+given|your\s+(?:instructions|prompt|rules|configuration)|"
        r"prompt\s+texts?|developer\s+message|context\s+window)\b(?!\s+(?:field|setting|option))",
        "asks the model to reveal its system prompt or instructions",
    ),
    _rule(
        "repeat_above",
        r"\b(?:repeat|print|output|copy|return)\b[^.?!\n]{0,20}\b(?:text|everything|words|all|"
        r"content|messages?)\s+(?:above|before|prior)\b"
        r"|\bmy\s+secret\s+instructions\s+are\b",
        "asks the model to repeat the text above (its prompt)",
    ),
    # --- Role-play jailbreaks ---------------------------------------------------------------
    _rule(
        "dan_jailbreak",
        r"(?-i:\bDAN\b)|\bdo\s+anything\s+now\b|\bdeveloper\s+mode\b|\bjail\s*break(?:s|ed)?\b"
        r"|\bjail\s*broken\b|\b(?-i:AIM)\b.{0,60}machiavellian",
        "a known jailbreak persona (DAN, developer mode, ...)",
    ),
    _rule(
        "no_restrictions",
        r"\b(?:no|without(?:\s+any)?)\s+(?:ethical\s+|moral\s+|content\s+|safety\s+)?"
        r"(?:restrictions|filters?|limits|limitations|guidelines|censorship|rules|boundaries)\b"
        r"[^.?!\n]{0,40}\b(?:answer|respond|reply|ai|assistant|chatbot|bot|model|refuse)"
        r"|\b" + _AI + r"\s+(?:with\s+no|without(?:\s+any)?|free\s+of)\s+(?:ethical\s+|moral\s+)?"
        r"(?:restrictions|filters?|rules|limits|guidelines|ethics|morals)\b"
        r"|\b(?:unfiltered|unrestricted|uncensored)\s+(?:ai|assistant|mode|chatbot|bot|model|"
        r"version|gpt|persona|answers?|responses?)\b"
        r"|\bnever\s+refuses?\b",
        "asks for a persona without restrictions",
    ),
    _rule(
        "persona_switch",
        r"\byou\s*(?:are|'re)\s+(?:now|no\s+longer)\s+(?!my\s+(?:favou?rite|best)\b)(?:a|an|in|my|the|not)?\s*(?:\w+\s+){0,3}?"
        r"(?:ai|assistant|bot|chatbot|model|gpt|character|persona|mode|pirate|hacker|translator|"
        r"interpreter|terminal|unrestricted|free|jailbroken|human|editor|journalist)\b"
        r"|\bstay\s+in\s+character\b"
        r"|(?<!\bi\s)(?<!\bwe\s)\bpretend\s+(?:to\s+be|you\s*(?:are|'re)|that\s+you)\b"
        r"|\b(?:i\s+want\s+you\s+to|you\s+will|you\s+must|now)\s+(?:act|behave|pose)\s+as\b"
        r"|\bact\s+as\s+(?:a|an)\s+(?:linux|python|sql|javascript|bash)?\s*(?:terminal|"
        r"interpreter|console|shell)\b"
        r"|\bfrom\s+now\s+on,?\s+you\s+(?:are|will|must|shall)\b"
        r"|\blet'?s\s+(?:play\s+a\s+game|role\s*-?\s*play)\b",
        "tries to switch the model into another persona",
    ),
    # --- Delimiter, markup and format tricks ------------------------------------------------
    _rule(
        "chat_template_tokens",
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>|\[/?INST\]|<</?SYS>>"
        r"|</?\s*(?:system|instructions?)\s*>|```\s*system\b",
        "chat-template control tokens or fake system tags",
    ),
    _rule(
        "fake_delimiter",
        r"</\s*(?:documents?|question|context|data|user_input)\s*>"
        r"|\bend\s+of\s+(?:the\s+)?(?:user\s+)?(?:input|document|context|prompt|data)\b"
        r"|\bsystem\s*override\b|\[\[?\s*system\b|(?:^|[\n\]>}])\s*system\s*(?:note|message)?\s*:"
        r"|^\s*#{2,}\s*(?:new\s+|system\s+|admin\s+)+(?:instructions?|prompt|override)",
        "closes the data delimiters or fakes a system message",
    ),
    _rule(
        "markdown_exfiltration",
        r"!\[[^\]]*\]\(\s*https?://[^)\s]*[?&][^)\s]*=[^)]*\)"
        r"|\{(?:conversation|system_prompt|history|chat_history|secrets?|api_key|user_data)\}"
        r"|\b(?:embed|append|encode)\b[^.?!\n]{0,40}\b(?:messages|conversation|history|prompt|"
        r"data|emails?)\b[^.?!\n]{0,20}\burls?\b",
        "a markdown image or link built to leak data through its URL",
    ),
    _rule(
        "html_comment_instruction",
        r"<!--[^>]{0,300}?\b(?:ignore|assistant|instructions?|system|prompt|reveal|" + _AI + r")\b",
        "instructions hidden in an HTML comment",
    ),
    _rule(
        "encoded_instruction",
        r"\b(?:decode|base64|rot13)\b[^.?!\n]{0,40}\b(?:follow|execute|obey|run|do\s+what)\b"
        r"|\b(?:follow|execute|obey)\b[^.?!\n]{0,30}\b(?:decode|base64|rot13)\b"
        r"|\bencode\s+your\s+(?:system\s+)?(?:prompt|instructions)\b",
        "instructions smuggled through an encoding",
    ),
    # --- Tool-call coercion -----------------------------------------------------------------
    _rule(
        "tool_coercion",
        r"\b(?:call|invoke|run|execute|trigger|use)\s+(?:the\s+)?(?:tool|function)\s+"
        r"[`'\"]?[a-z]+_[a-z_]+"
        r"|\b(?:call|invoke|run|execute|trigger|use)\s+(?:the\s+)?[`'\"]?[a-z]+_[a-z_]+[`'\"]?"
        r"\s+(?:tool|function)\b"
        r"|\buse\s+your\s+tools\s+to\b|\brufe\s+(?:das\s+)?(?:tool|werkzeug|funktion)\b"
        r"|[\"']tool[\"']\s*:\s*[\"']|\b(?:tool|function)\s+call\s+exactly\b",
        "tries to make the model call a tool",
    ),
    _rule(
        "authority_claim",
        r"\b(?:as\s+an?\s+admin(?:istrator)?\s+override|admin\s+override)\b"
        r"|\b(?:has|have)\s+been\s+granted\s+(?:admin|full|root)\b"
        r"|\bauthori[sz]ed\s+to\s+(?:issue|approve|grant|delete|export)\b"
        r"|\b(?:message|update)\s+from\s+(?:openai|anthropic)\b"
        r"|\b(?:skip|bypass|disable)\s+(?:all\s+)?(?:the\s+)?(?:safety|security|verification)\s+"
        r"(?:checks?|filters?|settings)\b"
        r"|\bdisable\s+the\s+guard\b",
        "claims authority the model should not accept",
    ),
    # --- German ------------------------------------------------------------------------------
    _rule(
        "de_ignore_instructions",
        r"\b(?:ignorier\w*|vergiss|vergessen\s+sie|vergesst|missacht\w*|übergeh\w*)\b"
        r"[^.!?\n]{0,40}?\b(?:anweisung\w*|instruktion\w*|regeln|befehle?|aufgaben?|auftr[äa]ge?|"
        r"vorgaben|richtlinien|alles|informationen|systemprompt|dokumente)\b"
        r"|\b(?:alle|sämtliche)\s+(?:bisherigen|vorherigen|vorigen|obigen)\s+(?:anweisungen|"
        r"informationen|instruktionen|aufgaben|regeln|befehle|nachrichten)\b"
        r"|\b(?:vorherig|bisherig|obig|vorig|ursprünglich)\w*\s+(?:anweisung|instruktion|aufgabe|"
        r"auftr[äa]g|regel|vorgabe)\w*",
        "asks (in German) to ignore the previous instructions",
    ),
    _rule(
        "de_prompt_exfiltration",
        r"\b(?:zeig\w*|gib|gebe?n?|wiederhol\w*|ausgeben|verrat\w*|nenn\w*)\b[^.?!\n]{0,40}"
        r"\b(?:systemprompt|systemnachricht|prompt-?texte?|(?:deine|ihre|versteckten|"
        r"ursprünglichen|geheimen)\s+(?:\w+\s+)?(?:anweisungen|instruktionen|regeln))"
        r"|\b(?:was\s+steht\s+in\s+deiner\s+systemnachricht)"
        r"|\bwiederhol\w*\s+(?:den|die|alle)\s+(?:text|nachrichten|worte)\s+(?:über|oben|davor)",
        "asks (in German) for the system prompt",
    ),
    _rule(
        "de_persona_switch",
        r"\b(?:du\s+bist|sie\s+sind)\s+(?:jetzt|ab\s+jetzt|nun|ab\s+sofort)\s+(?:ein|eine|kein|"
        r"keine|der|die|das)\b|\bab\s+jetzt\s+bist\s+du\b|\btu\s+so,?\s+als\b"
        r"|\bstell\s+dir\s+vor,?\s+du\s+bist\b|\bspiel\w*\s+(?:die|eine)\s+rolle\b"
        r"|\b(?:handle|agiere|fungiere)\s+als\b|\bals\s+[\w-]+\s+(?:agierst|fungierst|agieren|"
        r"fungieren)\b|\b(?:ki|assistent\w*)\s+ohne\s+(?:filter|regeln|einschränkungen)\b",
        "tries (in German) to switch the model into another persona",
    ),
    _rule(
        "de_roleplay_exfiltration",
        r"\b(?:rollenspiel|spielen\s+wir\s+ein\s+(?:spiel|rollenspiel))\b"
        r"|\bverhalte\s+dich\s+(?:wie|als)\b|\bgib\s+dich\s+als\b"
        r"|\b(?:ohne|keine)\s+(?:jegliche\s+)?(?:einschränkungen|filter|zensur|regeln)\b"
        r"[^.?!\n]{0,40}\b(?:antworte|ki|bot|assistent|modus)"
        r"|\b(?:zeig|gib|nenn|verrat|sag|schreib|druck|kopier|wiederhol)\w*\b[^.?!\n]{0,30}"
        r"\b(?:deine[nmrs]?|den|die|ihre[nmrs]?)\s+(?:\w+\s+)?(?:system\s*-?\s*prompt|"
        r"systemanweisung\w*|anweisungen|instruktionen|konfiguration|eingabeaufforderung)\b"
        r"|\bwas\s+(?:sind|waren)\s+deine\s+(?:\w+\s+)?(?:anweisungen|instruktionen|regeln)\b"
        r"|\bvergiss\s+deine\s+rolle\b",
        "role-play, a persona without limits, or the system prompt asked for (in German)",
    ),
    _rule(
        "fr_es_ignore_instructions",
        r"\b(?:ignorez|ignore|oubliez|oublie)\s+(?:toutes\s+)?(?:les\s+)?instructions\b"
        r"|\b(?:olvida|ignora|omite|descarta)\s+(?:todas\s+|todo\s+)?(?:las\s+|tus\s+)?"
        r"(?:instrucciones|reglas|indicaciones|lo\s+anterior|normas)\b"
        r"|\bolvida(?:te\s+de)?\s+tu\s+(?:papel|rol)\b",
        "asks (in French or Spanish) to ignore the instructions",
    ),
    _rule(
        "es_roleplay_exfiltration",
        r"\b(?:a\s+partir\s+de\s+ahora|desde\s+ahora|de\s+ahora\s+en\s+adelante)\b"
        r"[^.?!\n]{0,20}\b(?:eres|serás|actúa\w*|actuarás|responde\w*|finge)\b"
        r"|\bfinge\s+(?:que\s+eres|ser)\b|\bhaz\s+de\s+cuenta\s+que\b"
        r"|\bactúa\s+como\s+(?:un|una|si)\b|\binterpreta\s+(?:el|un)\s+papel\b"
        r"|\bjuego\s+de\s+rol\b|\bjuguemos\s+a\b"
        r"|\bsin\s+(?:restricciones|filtros|censura|reglas|límites)\b"
        r"|\b(?:muestra|muéstrame|revela|revélame|dime|repite|imprime|escribe|dame|comparte)\b"
        r"[^.?!\n]{0,40}\b(?:instrucciones|indicaciones|reglas\s+internas|prompt|"
        r"mensaje\s+del\s+sistema|configuración)\b",
        "role-play, a persona without limits, or the system prompt asked for (in Spanish)",
    ),
    # --- Indirect: instructions addressed to an AI inside data ------------------------------
    _rule(
        "addressed_to_ai",
        r"\b(?:note|message|instructions?|p\.?\s*s\.?|attention|important)\s+(?:to|for)\s+"
        r"(?:the\s+|any\s+|all\s+|an\s+)?" + _AI + r"s?\b"
        r"|\bif\s+you\s+are\s+an?\s+" + _AI + r"\b"
        r"|\b(?:when|if)\s+an?\s+" + _AI + r"\s+reads\b"
        r"|\b" + _AI + r"s?\s+(?:reading|processing|summari[sz]ing|parsing)\s+this\b"
        r"|(?:^|[\s\"'(\[{])@?" + _AI + r"\s*[:,]\s*(?:please\s+)?(?:ignore|disregard|forget|"
        r"stop|reveal|print|call|send|override|you\s+must|do\s+not|include|render|grant)"
        r"|\bdear\s+[\w\s]{0,20}?" + _AI + r"\b|(?:^|\s)@" + _AI + r"\b"
        r"|\b(?:supersedes|overrides|replaces)\s+(?:your|the)\s+(?:system\s+prompt|instructions|"
        r"rules)\b"
        r"|\bfor\s+ai\s+only\b"
        r"|\b(?:hinweis|nachricht)\s+(?:für|an)\s+(?:den|die|das)\s+(?:ki|assistenten|sprachmodell|"
        r"bot|chatbot)\b|\ban\s+das\s+sprachmodell\b|\bwenn\s+du\s+eine\s+ki\s+bist\b",
        "a document or tool output that addresses the AI with instructions",
        indirect_only=True,
    ),
    _rule(
        "credential_handover",
        r"\b(?:send|e-?mail|share|give|provide|forward|submit|post|reply\s+with|text|enter|"
        r"paste|upload|type)\b[^.!?\n]{0,60}?\b(?:passwords?|passcodes?|passphrases?|"
        r"credentials?|login\s+details|(?:2fa|mfa|one-time|verification|security|backup|"
        r"recovery|sms)\s+codes?|api\s+(?:keys?|tokens?)|access\s+tokens?|secret\s+keys?|"
        r"card\s+(?:numbers?|details)|photo\s+of\s+their\s+card|cvv|cvc)\b[^.!?\n]{0,60}?"
        r"\b(?:to|at|via|on|into|with)\s+(?:[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?://|www\.)",
        "tells the reader to hand credentials or card data to an address",
        indirect_only=True,
    ),
    _rule(
        "instructs_the_answerer",
        r"\b(?:when|while|before|after|if)\s+(?:you\s+)?(?:answering|responding|replying|"
        r"answer|respond|reply)\b[^.!?\n]{0,60}\b(?:tell|instruct|ask|advise|remind|direct|"
        r"recommend|say)\b"
        r"|\b(?:tell|instruct|advise|remind|direct)\s+(?:the\s+|all\s+|any\s+|every\s+)?"
        r"(?:users?|customers?|readers?|callers?|them|admins?)\s+to\s+(?:e-?mail|send|share|"
        r"forward|visit|log\s*in|sign\s*in|go\s+to|paste|reply|call|contact)\b"
        r"|\b(?:in|for)\s+(?:every|each|all|any)\s+(?:answers?|responses?|replies)\b"
        r"|\b(?:support|your)\s+(?:answers|replies|responses)\s+should\b"
        r"|\bnote\s+for\s+(?:support\s+)?(?:replies|answers|responses)\b"
        r"|\b(?:always|should\s+always)\s+(?:ask|tell|instruct|remind|recommend\s+that)\s+"
        r"(?:the\s+|every\s+)?(?:users?|customers?|readers?)\b",
        "a document telling whoever answers from it what to tell users (planted instructions)",
        indirect_only=True,
    ),
    _rule(
        "hidden_text",
        r"\b(?:hidden|white|invisible)\s+(?:in\s+)?(?:white\s+)?(?:font|text)\b[^.?!\n]{0,20}:"
        r"|[\u200b\u200c\u200d\u2060\ufeff]{3,}",
        "text hidden from people but visible to the model",
        indirect_only=True,
    ),
)


RULES += ROMANCE_RULES


@dataclass(frozen=True)
class RuleHit:
    rule: str
    description: str
    excerpt: str


def match_rules(text: str, scope: Scope) -> list[RuleHit]:
    """Every rule of ``scope`` that matches ``text``, in rule order."""
    hits: list[RuleHit] = []
    for rule in RULES:
        if scope not in rule.scopes:
            continue
        m = rule.pattern.search(text)
        if m is not None:
            hits.append(RuleHit(rule.name, rule.description, m.group(0)[:80]))
    return hits
