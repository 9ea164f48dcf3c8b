"""The injection rules' moves in other languages: the words of "ignore the previous instructions", "new instructions",
"system prompt" and "from now on" in ~35 languages. ``injection.rule_hits`` joins each kind's pattern here to the
English one (``PATTERNS``), so a move counts once, in whatever language it is made.

Why: every move the rules count was English only, so a page that hid "Ignora las instrucciones anteriores" from its
readers was kept by the hidden-text stage, and ``ai_instruction_hits`` was 0 for any attack not in English. The words
are the common imperative and noun forms of each language, written from general knowledge of the languages, not from
any attack file; stems where the language inflects (Spanish "ignor" for ignora / ignore / ignorad). (The injection
combiner gives the rule features zero weight, so ``injection_score`` does not change: RESULTS.md, twenty-first
session.)
"""
from __future__ import annotations

# Verbs of setting instructions aside (imperative or stem). "ignor" is followed by (?!an): ignorance, ignorant.
_SET_ASIDE = [
    r"ignor(?!an)\w*", r"olvid\w*", r"descart(?!es\b)\w*", r"haz caso omiso", r"pasa por alto",  # es (+ pt/it/fr/ro ignor)
    r"oubli\w*", r"néglig\w*", r"fais abstraction",  # fr
    r"vergiss\w*", r"missacht\w*", r"übergeh\w*", r"außer acht",  # de
    r"dimentic\w*", r"trascur\w*",  # it
    r"esque[cç]\w*", r"desconsider\w*",  # pt
    r"negeer\w*", r"vergeet",  # nl
    r"glöm\w*", r"strunta i", r"glem\w*", r"se bort fra",  # sv, da / no
    r"ohita\w*", r"unohda\w*", r"jätä huomiotta", r"sivuuta\w*",  # fi
    r"zignoruj\w*", r"zapomnij\w*", r"pomiń\w*",  # pl
    r"zapome[nň]\w*", r"zabudni\w*",  # cs / sk
    r"uită\w*", r"uitați",  # ro
    r"figyelmen kívül", r"felejtsd? el",  # hu
    r"yok say\w*", r"görmezden gel\w*", r"unut\w*", r"göz ardı et\w*", r"dikkate alma\w*",  # tr
    r"игнорир\w*", r"проигнорир\w*", r"забудь\w*", r"не обращай\w*", r"отбрось\w*", r"игнорирай\w*", r"забрави\w*",  # ru / bg
    r"ігнору\w*", r"проігноруй\w*", r"не звертай\w*",  # uk
    r"ignori[sš]i\w*", r"zaboravi\w*", r"игнориши", r"заборави\w*",  # sr / hr
    r"αγνόησ\w*", r"αγνοήστε", r"ξέχασ\w*",  # el
    r"تجاهل", r"انس", r"أهمل", r"اهمل",  # ar
    r"نادیده بگیر\w*", r"فراموش کن\w*",  # fa
    r"התעלם", r"תתעלם", r"שכח", r"תשכח",  # he
    r"अनदेखा", r"नज़रअंदाज़", r"नजरअंदाज", r"भूल जा\w*",  # hi
    r"উপেক্ষা", r"ভুলে যা\w*",  # bn
    r"نظر انداز", r"بھول جا\w*",  # ur
    r"bỏ qua", r"phớt lờ", r"quên", r"lờ đi",  # vi
    r"abaikan\w*", r"lupakan\w*",  # id / ms
    r"huwag pansinin", r"kalimutan\w*", r"balewalain",  # tl
    r"puuza\w*", r"sahau\w*",  # sw
]
# Scripts written without spaces: no word boundaries around these.
_SET_ASIDE_UNSPACED = [r"忽略", r"无视", r"無視", r"忘记", r"忘記", r"不要理会", r"不要理會", r"忘れ", r"무시", r"잊어",
                       r"잊고", r"เพิกเฉย", r"ละเว้น", r"ไม่ต้องสนใจ"]
# What is set aside: instructions, rules, directions, the previous text.
_INSTRUCTIONS = [
    r"instrucci\w*", r"indicaci\w*", r"reglas", r"órdenes", r"directrices", r"anterior\w*",  # es
    r"instruction\w*", r"consigne\w*", r"règles?", r"directives?", r"précédent\w*",  # fr
    r"anweisung\w*", r"instruktion\w*", r"regeln", r"vorgaben", r"befehle?", r"richtlinie\w*", r"vorherig\w*",
    r"bisherig\w*",  # de
    r"istruzion\w*", r"regole", r"indicazion\w*", r"precedent\w*", r"direttiv\w*",  # it
    r"instruç\w*", r"regras", r"orienta[cç]\w*", r"diretriz\w*",  # pt
    r"instructie\w*", r"regels", r"opdracht\w*", r"vorige", r"eerdere",  # nl
    r"instruks\w*", r"regler", r"tidigare", r"föregående", r"tidligere",  # sv, da / no
    r"ohje\w*", r"sääntö\w*", r"aiemm\w*", r"edellis\w*",  # fi
    r"instrukcj\w*", r"polece\w*", r"zasad\w*", r"reguł\w*", r"poprzedni\w*",  # pl
    r"instrukc\w*", r"pokyn\w*", r"pravidl\w*", r"předchozí\w*", r"predchádzajúc\w*",  # cs / sk
    r"instruc[țţt]iun\w*", r"reguli\w*", r"anterioare",  # ro
    r"utasítás\w*", r"szabály\w*", r"korábbi", r"előző\w*",  # hu
    r"talimat\w*", r"kural\w*", r"komut\w*", r"yönerge\w*", r"önceki",  # tr
    r"инструкци\w*", r"указани\w*", r"правил\w*", r"команд\w*", r"предыдущ\w*", r"предишн\w*",  # ru / bg
    r"інструкці\w*", r"вказівк\w*", r"попередн\w*",  # uk
    r"uputstv\w*", r"upute", r"uputa", r"pravil\w*", r"instrukcij\w*", r"упутств\w*",  # sr / hr
    r"οδηγί\w*", r"εντολ\w*", r"κανόν\w*", r"προηγούμεν\w*",  # el
    r"التعليمات", r"تعليمات", r"الأوامر", r"أوامر", r"القواعد", r"السابقة",  # ar
    r"دستورالعمل\w*", r"دستورات", r"قوانین", r"قبلی",  # fa
    r"הוראות", r"ההוראות", r"כללים", r"הקודמות",  # he
    r"निर्देश\w*", r"नियम\w*", r"पिछल\w*",  # hi
    r"নির্দেশ\w*", r"নিয়ম\w*", r"আগের",  # bn
    r"ہدایات", r"احکامات", r"پچھل\w*",  # ur
    r"hướng dẫn", r"chỉ dẫn", r"chỉ thị", r"quy tắc", r"trước đó",  # vi
    r"instruksi", r"perintah", r"petunjuk", r"aturan", r"arahan", r"sebelumnya",  # id / ms
    r"tagubilin", r"instruksyon", r"utos", r"panuto",  # tl
    r"maagizo", r"maelekezo", r"sheria",  # sw
]
_INSTRUCTIONS_UNSPACED = [r"指令", r"指示", r"说明", r"說明", r"规则", r"規則", r"提示", r"之前的", r"以上", r"上面的",
                          r"命令", r"ルール", r"プロンプト", r"以前の", r"上記", r"지시", r"지침", r"명령", r"규칙",
                          r"프롬프트", r"이전", r"คำสั่ง", r"คำแนะนำ", r"ก่อนหน้า"]


def _alt(words: list[str]) -> str:
    return "(?:" + "|".join(words) + ")"


def _fold(text: str) -> str:
    """Lower case as re.IGNORECASE compares: Turkish dotted and dotless i both as i (upper-case İ lowers to i plus
    a combining dot, and the pattern's ı matches I)."""
    return text.lower().replace("\u0307", "").replace("ı", "i")


def _stem(pattern: str) -> str:
    """The literal, lower-case start of one alternative (r"\\bnuevas? reglas" -> "nueva"): text without it cannot
    match the alternative. A character that a quantifier follows is optional, so the stem stops before it."""
    out = []
    p = pattern[2:] if pattern.startswith("\\b") else pattern
    for i, ch in enumerate(p):
        if ch in "\\[](){}|.^$*+?" or p[i + 1:i + 2] in ("?", "*", "+", "{"):
            break
        out.append(ch)
    stem = _fold("".join(out))
    if not stem:
        raise ValueError(f"injection_lexicon: {pattern!r} starts with no literal text; write it out as alternatives")
    return stem


_V = r"(?:\b" + _alt(_SET_ASIDE) + r"|" + _alt(_SET_ASIDE_UNSPACED) + r")"
_O = r"(?:\b" + _alt(_INSTRUCTIONS) + r"|" + _alt(_INSTRUCTIONS_UNSPACED) + r")"
# Either order within one clause: verb-object languages ("ignora las instrucciones anteriores") and object-verb ones
# ("önceki talimatları yok say", "以前の指示を無視して", "Anweisungen ignorieren").
OVERRIDE = _V + r"[^.;!?。；！？\n]{0,40}?" + _O + r"|" + _O + r"[^.;!?。；！？\n]{0,40}?" + _V

_NEW = [
    r"\bnuevas instrucciones", r"\bnueva instrucción", r"\bnuevas reglas", r"\bnuevas órdenes",
    r"\bnouvelles? instructions?", r"\bnouvelles? consignes?", r"\bnouvelles? règles",
    r"\bneue[nr]? (?:anweisung\w*|instruktion\w*|regeln)", r"\bnuove (?:istruzioni|regole)",
    r"\bnova instruç\w*", r"\bnovas instruç\w*", r"\bnovas regras", r"\bnieuwe (?:instructies|regels)", r"\bnowe (?:instrukcje|polecenia|zasady)",
    r"\bнов\w* (?:инструкци\w*|правил\w*|указани\w*)", r"\bнов\w* (?:інструкці\w*|правил\w*)",
    r"\byeni (?:talimat\w*|kural\w*)", r"\bhướng dẫn mới", r"\binstruksi baru", r"\bperintah baru", r"\baturan baru",
    r"新的?指令", r"新的?指示", r"新しい指示", r"새로운? 지시", r"새로운? 규칙",
]

_SYSTEM = [
    r"\bprompt del sistema", r"\bmensaje del sistema", r"\binstrucciones del sistema", r"\bprompt système", r"\bprompt du système",
    r"\binvite système", r"\binvite du système", r"\bmessage système", r"\bmessage du système",
    r"\binstructions système", r"\binstructions du système", r"\binstruction système", r"\binstruction du système",
    r"\bsystemprompt", r"\bsystem-prompt", r"\bsystemanweisung\w*", r"\bsystem-anweisung\w*",
    r"\bsystemnachricht\w*", r"\bsystem-nachricht\w*", r"\bprompt di sistema", r"\bprompt do sistema", r"\binstruções do sistema",
    r"\bsysteemprompt", r"\bprompt systemow\w*", r"\bsistem (?:istemi|komutu|mesajı|talimat\w*)",
    r"\bсистемн\w* (?:промпт\w*|подсказк\w*|инструкци\w*|сообщени\w*)", r"\bсистемн\w* (?:промпт\w*|підказк\w*|інструкці\w*)",
    r"系统提示", r"系統提示", r"系统指令", r"系統指令", r"システムプロンプト", r"시스템 프롬프트",
    r"موجه النظام", r"تعليمات النظام", r"\blời nhắc hệ thống", r"\bprompt sistem", r"\binstruksi sistem",
    r"\bmodelo de lenguaje", r"\bmodèle de langage", r"\bsprachmodell\w*", r"\bmodello linguistico",
    r"\bmodelo de linguagem",
    r"\bязыков\w* модел\w*", r"语言模型", r"語言模型", r"言語モデル", r"언어 모델",
]

_NOW = [
    r"\ba partir de ahora", r"\bahora eres", r"\bà partir de maintenant", r"\btu es maintenant", r"\bvous êtes maintenant",
    r"\bvon nun an", r"\bab jetzt", r"\bdu bist jetzt", r"\bd'ora in (?:poi|avanti)", r"\bora sei",
    r"\ba partir de agora", r"\bde agora em diante", r"\bagora você é", r"\bvanaf nu", r"\bje bent nu", r"\bod teraz",
    r"\bс этого момента", r"\bотныне", r"\bтеперь ты", r"\bвідтепер", r"\bтепер ти", r"\bbundan sonra", r"\bartık sen",
    r"从现在开始", r"從現在開始", r"你现在是", r"你現在是", r"今から", r"지금부터", r"이제부터",
    r"من الآن فصاعدا", r"أنت الآن", r"\btừ bây giờ", r"\bmulai sekarang", r"\bsekarang kamu adalah",
]


# Python's re tries a long alternation at every position of a text (the joined patterns ran 7x slower than the
# English rules alone on web pages), so rule_hits first looks for the stems (str's fast substring search) and uses a
# kind's joined pattern only on a text that holds a stem of each of its word lists: on any other text it cannot match.
PATTERNS = {"override": OVERRIDE, "new_instructions": _alt(_NEW), "you_are_now": _alt(_NOW), "ai_addressed": _alt(_SYSTEM)}
STEMS = {k: [sorted({_stem(w) for w in words}) for words in lists] for k, lists in {
    "override": [_SET_ASIDE + _SET_ASIDE_UNSPACED, _INSTRUCTIONS + _INSTRUCTIONS_UNSPACED],
    "new_instructions": [_NEW], "you_are_now": [_NOW], "ai_addressed": [_SYSTEM]}.items()}


def possible(text: str) -> set[str]:
    """The rule kinds whose other-language alternatives can match ``text``: each of its stem lists has a stem in it."""
    low = _fold(text)
    return {k for k, lists in STEMS.items() if all(any(s in low for s in stems) for stems in lists)}
