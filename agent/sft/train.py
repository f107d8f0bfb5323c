"""``sinoloc sft train``: LoRA fine-tuning of Qwen2-VL / Qwen2.5-VL on chain-of-thought records,
in exactly the chat format the local backend uses at inference.

Each example is the conversation the graph would send (system prompt with the tools, then the
prelude message with the image) and, as the only trained tokens, the assistant turn: the
teacher's reasoning, then a ``submit_answer`` tool call with the teacher's answer. Records are
split into train and validation by location (grid cells, so near-duplicates stay together).
Checkpoints are written every epoch and a run resumes from the last one.

Real runs: CUDA with bf16 (fp16 where bf16 is unsupported), ``gradient_checkpointing`` for 7B
models, ``batch`` 1 with ``grad_accum`` 8–16; CPU (fp32) works for tests on tiny models.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from sinoloc.agent.llm.messages import image_block
from sinoloc.agent.llm.qwen_local import (
    expand_image_pads,
    load_text_and_vision,
    pick_device_and_dtype,
    to_chat,
    vision_inputs,
)
from sinoloc.agent.sft.records import CotRecord
from sinoloc.agent.toolbox.definitions import tool_definitions
from sinoloc.agent.toolbox.registry import SUBMIT_TOOL
from sinoloc.agent.toolbox.runner import tool_call
from sinoloc.prompts import load_prompt

STATE_FILE = "train_state.json"
IGNORE = -100


class TrainConfig(BaseModel):
    base: str = Field(description="Qwen2-VL / Qwen2.5-VL directory (or a cached hub id)")
    out: str
    epochs: int = Field(default=2, ge=1)
    learning_rate: float = Field(default=2e-4, gt=0)
    grad_accum: int = Field(default=8, ge=1)
    lora_r: int = Field(default=16, ge=1)
    lora_alpha: int = Field(default=32, ge=1)
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    modules_to_save: list[str] = Field(default_factory=list, description=(
        "modules trained in full beside the adapters (e.g. lm_head)"))
    val_fraction: float = Field(default=0.1, ge=0, lt=1)
    split_cell_deg: float = Field(default=0.5, gt=0, description="location split grid")
    max_pixels: int = Field(default=1024 * 28 * 28, description="image size the student sees")
    gradient_checkpointing: bool = False
    device: str | None = None
    dtype: str | None = None
    seed: int = 0


class EpochLog(BaseModel):
    epoch: int
    train_loss: float
    val_loss: float | None
    steps: int


def split_by_location(records: list[CotRecord], cell_deg: float, val_fraction: float,
                      seed: int) -> tuple[list[CotRecord], list[CotRecord]]:
    """Whole grid cells go to validation, so nearby shots of one place never straddle it."""
    def cell_bucket(r: CotRecord) -> float:
        cell = f"{math.floor(r.lat / cell_deg)}:{math.floor(r.lon / cell_deg)}:{seed}"
        return int(hashlib.sha256(cell.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF

    if val_fraction <= 0 or len(records) < 2:
        return list(records), []
    val = [r for r in records if cell_bucket(r) < val_fraction]
    train = [r for r in records if cell_bucket(r) >= val_fraction]
    if not train:  # a tiny set in one cell: keep something to train on
        train, val = val[1:], val[:1]
    return train, val


def target_message(record: CotRecord) -> AIMessage:
    a = record.answer
    if a is None:  # load_records keeps only answered records
        raise ValueError(f"record {record.id} has no answer to train on")
    answer = {"province": a.province, "city": a.city, "district": a.district, "lat": a.lat,
              "lon": a.lon, "reasoning": record.explanation.split("\n")[0][:300]}
    return AIMessage(content=record.explanation, tool_calls=[tool_call(SUBMIT_TOOL, answer)])


class Encoder:
    """Records → token ids, labels (only the assistant turn is trained) and vision inputs."""

    def __init__(self, tokenizer, image_processor, template: str,
                 system_prompt: str | None = None):
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.template = template
        self.system_prompt = system_prompt if system_prompt is not None else load_prompt("system")
        self.tools = tool_definitions()

    def __call__(self, record: CotRecord, image_root: Path | None = None) -> dict:
        import torch

        path = Path(record.image)
        if not path.is_absolute() and image_root is not None:
            path = image_root / path
        prompt_messages = [SystemMessage(content=self.system_prompt), HumanMessage(content=[
            {"type": "text", "text": record.student_prompt},
            image_block(str(path), record.image_sha256)])]
        chat, images = to_chat(prompt_messages)
        answer_chat, _ = to_chat([target_message(record)])
        render = lambda messages, generation: self.tokenizer.apply_chat_template(  # noqa: E731
            messages, tools=self.tools, chat_template=self.template, tokenize=False,
            add_generation_prompt=generation)
        prompt_text = render(chat, True)
        full_text = render(chat + answer_chat, False)
        if not full_text.startswith(prompt_text):
            raise ValueError("the chat template does not extend the prompt with the answer")
        vision, counts = vision_inputs(self.image_processor, images)
        prompt_ids = self.tokenizer(expand_image_pads(prompt_text, counts),
                                    add_special_tokens=False)["input_ids"]
        answer_ids = self.tokenizer(full_text[len(prompt_text):],
                                    add_special_tokens=False)["input_ids"]
        ids = prompt_ids + answer_ids
        image_token = self.tokenizer.convert_tokens_to_ids("<|image_pad|>")
        input_ids = torch.tensor([ids])
        return {"input_ids": input_ids,
                "mm_token_type_ids": (input_ids == image_token).long(),  # 1: image, 0: text
                "attention_mask": torch.ones(1, len(ids), dtype=torch.long),
                "labels": torch.tensor([[IGNORE] * len(prompt_ids) + answer_ids]),
                "pixel_values": vision["pixel_values"],
                "image_grid_thw": vision["image_grid_thw"]}


def load_records(path: Path) -> list[CotRecord]:
    from sinoloc.tools.jsonl_log import JsonlLog

    records = JsonlLog(path, CotRecord).read()
    return [r for r in records if r.kept and r.answer is not None]


def _load(config: TrainConfig):
    from transformers import AutoModelForImageTextToText

    device, dtype = pick_device_and_dtype(config.device, config.dtype)
    tokenizer, processor, template = load_text_and_vision(Path(config.base), config.max_pixels)
    model = AutoModelForImageTextToText.from_pretrained(config.base, dtype=dtype)
    return model, tokenizer, processor, template, device


def _mean_loss(model, batches: list[dict], device) -> float | None:
    import torch

    if not batches:
        return None
    model.eval()
    total = 0.0
    with torch.no_grad():
        for batch in batches:
            total += float(model(**_to(batch, model, device)).loss)
    model.train()
    return total / len(batches)


def _to(batch: dict, model, device) -> dict:
    out = {k: v.to(device) for k, v in batch.items()}
    out["pixel_values"] = out["pixel_values"].to(model.dtype)
    return out


def train(records: list[CotRecord], config: TrainConfig, *, resume: bool = False,
          image_root: Path | None = None, system_prompt: str | None = None,
          progress: Callable[[str], None] | None = None) -> list[EpochLog]:
    """Fine-tune, writing ``config.out`` (the adapter, checkpoints, the state and a report)."""
    import torch

    if not records:
        raise ValueError("no kept records with an answer to train on")
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    state = _resume_state(out, config, resume)
    torch.manual_seed(config.seed)  # before the adapters are made: their initial weights are drawn
    model, tokenizer, processor, template, device = _load(config)
    model = _with_adapters(model, config, out, state)
    model.to(device).train()
    encode = Encoder(tokenizer, processor, template, system_prompt)
    train_set, val_set = split_by_location(records, config.split_cell_deg, config.val_fraction,
                                           config.seed)
    train_batches = [encode(r, image_root) for r in train_set]
    val_batches = [encode(r, image_root) for r in val_set]
    optimizer = _optimizer(model, config, out, state)
    logs = [EpochLog.model_validate(e) for e in (state or {}).get("epochs", [])]
    for epoch in range(len(logs) + 1, config.epochs + 1):
        losses = _train_epoch(model, optimizer, train_batches, config, epoch, device, progress)
        logs.append(EpochLog(epoch=epoch, train_loss=sum(losses) / len(losses),
                             val_loss=_mean_loss(model, val_batches, device), steps=len(losses)))
        _save_epoch(model, optimizer, out, config, logs, sizes=(len(train_set), len(val_set)))
    model.save_pretrained(out)  # adapter_config.json + adapter_model.safetensors
    return logs


def _resume_state(out: Path, config: TrainConfig, resume: bool) -> dict | None:
    """The interrupted run's state to go on from (None: start afresh). Only ``epochs`` may differ
    from its settings: anything else would make the resumed adapter a different experiment."""
    state_path = out / STATE_FILE
    state = json.loads(state_path.read_text()) if resume and state_path.exists() else None
    if state is not None and {**state["config"], "epochs": config.epochs} != \
            config.model_dump(mode="json"):
        raise ValueError(f"{out}: a resume needs the same settings as the interrupted run "
                         "(only --epochs may grow)")
    return state


def _with_adapters(model, config: TrainConfig, out: Path, state: dict | None):
    """The base model with trainable LoRA adapters: the last checkpoint's on a resume, new ones
    otherwise (gradient checkpointing switched on first where asked)."""
    from peft import LoraConfig, PeftModel, get_peft_model

    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    if state is not None:
        return PeftModel.from_pretrained(model, out / f"checkpoint-{state['epoch']}", is_trainable=True)
    return get_peft_model(model, LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        modules_to_save=config.modules_to_save or None))


def _optimizer(model, config: TrainConfig, out: Path, state: dict | None):
    """AdamW over the trainable parameters, with the checkpoint's moments on a resume."""
    import torch

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.learning_rate)
    if state is not None:
        optimizer.load_state_dict(torch.load(out / f"checkpoint-{state['epoch']}" /
                                             "optimizer.pt", weights_only=True))
    return optimizer


def _train_epoch(model, optimizer, batches: list[dict], config: TrainConfig, epoch: int, device,
                 progress: Callable[[str], None] | None) -> list[float]:
    """One pass in an order seeded by the epoch (so a resumed run draws the same), stepping every
    ``grad_accum`` examples and at the end; returns each step's loss."""
    order = list(range(len(batches)))
    random.Random(config.seed + epoch).shuffle(order)
    losses: list[float] = []
    optimizer.zero_grad()
    for step, index in enumerate(order, start=1):
        loss = model(**_to(batches[index], model, device)).loss
        (loss / config.grad_accum).backward()
        losses.append(float(loss.detach()))
        if step % config.grad_accum == 0 or step == len(order):
            optimizer.step()
            optimizer.zero_grad()
        if progress is not None:
            progress(f"epoch {epoch}/{config.epochs} step {step}/{len(order)} "
                     f"loss {float(loss):.4f}")
    return losses


def _save_epoch(model, optimizer, out: Path, config: TrainConfig, logs: list[EpochLog],
                sizes: tuple[int, int]) -> None:
    """The epoch's checkpoint (adapter and optimizer) and the state a resume reads, written after
    the checkpoint so the state never names one that is not there."""
    import torch

    epoch = logs[-1].epoch
    checkpoint = out / f"checkpoint-{epoch}"
    model.save_pretrained(checkpoint)
    torch.save(optimizer.state_dict(), checkpoint / "optimizer.pt")
    (out / STATE_FILE).write_text(json.dumps({"config": config.model_dump(mode="json"),
                                              "epoch": epoch,
                                              "epochs": [e.model_dump() for e in logs],
                                              "train": sizes[0], "val": sizes[1]},
                                             indent=2))
