"""One chain-of-thought example: what the student sees, what the teacher said, how far the
teacher's answer is from the truth, and whether it is kept for training."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, Field, ValidationError


class TeacherAnswer(BaseModel):
    province: str
    city: str | None = None
    district: str | None = None
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class CotRecord(BaseModel):
    id: str
    image: str = Field(description="path of the image (as the dataset gives it)")
    image_sha256: str
    student_prompt: str = Field(description="the prelude text the student sees at inference")
    teacher: str
    explanation: str = ""
    answer: TeacherAnswer | None = None
    error_km: float | None = Field(default=None, description="teacher answer vs the truth")
    kept: bool = False
    reason: str = Field(default="", description="why it is not kept, if it is not")
    lat: float = Field(description="the true WGS-84 point (for the location split only)")
    lon: float
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None


_ANSWER = re.compile(r"ANSWER:\s*(\{.*?\})\s*$", re.S | re.M)


def parse_teacher(text: str) -> tuple[str, TeacherAnswer | None, str]:
    """(explanation, answer, problem): the text before the last ``ANSWER:`` line and the JSON
    after it; a missing or invalid answer is a problem, not an exception."""
    matches = list(_ANSWER.finditer(text))
    if not matches:
        return text.strip(), None, "no ANSWER line"
    last = matches[-1]
    explanation = text[: last.start()].strip()
    try:
        answer = TeacherAnswer.model_validate(json.loads(last.group(1)))
    except (json.JSONDecodeError, ValidationError) as exc:
        return explanation, None, f"invalid ANSWER: {exc.__class__.__name__}"
    return explanation, answer, ""
