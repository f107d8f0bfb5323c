"""Text that addresses a model ("ignore previous instructions…", "答案是北京") rather than a
passer-by. Such text is shown to a model only as quoted data and is never read as a location
clue: a sign that names an answer is not evidence for it."""

from __future__ import annotations

import re

_INSTRUCTION = re.compile(
    r"ignore\s+(?:all\s+|any\s+|the\s+)?(?:previous|prior|above|earlier|your)\s+"
    r"(?:instructions?|prompts?|rules?)"
    r"|disregard\s+(?:all\s+|the\s+|your\s+)?(?:previous\s+|prior\s+)?(?:instructions?|rules?)"
    r"|\bsystem\s+prompt\b|\byou\s+are\s+now\b|\bnew\s+instructions?\b"
    r"|\b(?:answer|respond|reply)\s+(?:with|only|that|is)\b|\bthe\s+answer\s+is\b"
    r"|\bsubmit_answer\b|\bassistant\s*:"
    r"|(?:忽略|无视|忘记|不要理会)(?:之前|以上|前面|上面|所有|全部|你的)?的?(?:指令|指示|提示|规则|要求)"
    r"|(?:请|必须|务必)?(?:回答|输出|提交)(?:为|是)|答案(?:是|为)|你现在是|系统提示",
    re.IGNORECASE)


def looks_like_instruction(text: str) -> bool:
    """True when ``text`` reads like an instruction to a model."""
    return bool(_INSTRUCTION.search(text.replace(" ", " ")))
