"""An in-process Qwen2-VL / Qwen2.5-VL chat model on transformers, as a LangChain
``BaseChatModel`` with ``bind_tools``.

Loaded without ``AutoProcessor`` (which needs torchvision): the tokenizer and the Pillow image
processor are loaded separately and the image placeholder is expanded here, as the Qwen
processor would. Tools are rendered through the model's chat template when it knows tools, else
through ``prompts/qwen_vl_tools.jinja`` (the Hermes format Qwen models are trained on);
``<tool_call>`` blocks in the output become ``AIMessage.tool_calls``. An optional peft LoRA
adapter is merged at load time.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from PIL import Image
from pydantic import ConfigDict, PrivateAttr

from sinoloc.agent.llm.toolcalls import parse_tool_calls
from sinoloc.prompts import load_prompt
from sinoloc.tools.images import load_image

IMAGE_PAD = "<|image_pad|>"
_END = re.compile(r"<\|im_end\|>.*|<\|endoftext\|>.*", re.DOTALL)
DEFAULT_MAX_PIXELS = 1024 * 28 * 28  # ~800k pixels: 1024 visual tokens after merging


class LocalModelError(RuntimeError):
    """The local model directory cannot be loaded."""


def check_model_dir(path: str | Path) -> Path:
    """``path`` holds a saved model (its config.json), checked before anything is loaded."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise LocalModelError(f"{path} is not a model directory (no config.json)")
    return path


def pick_device_and_dtype(device: str | None = None, dtype: str | None = None):
    """CUDA with bf16 where supported (fp16 otherwise), Apple MPS with fp16, else CPU fp32."""
    import torch

    if device is None:
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    if dtype is None:
        if device.startswith("cuda"):
            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        elif device == "mps":
            dtype = "float16"
        else:
            dtype = "float32"
    return device, getattr(torch, dtype)


def _decode_image_block(block: dict) -> Image.Image:
    """A PIL image from a LangChain image block (base64, data URL or local path)."""
    data = block.get("base64") or block.get("data")
    image_url = block.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else (image_url or block.get("url"))
    if data is None and isinstance(url, str) and url.startswith("data:"):
        data = url.split(",", 1)[1]
    if data is not None:
        return load_image(base64.b64decode(data)).image
    if isinstance(url, str) and (url.startswith("file://") or Path(url).exists()):
        return load_image(url.removeprefix("file://")).image
    raise ValueError(f"unsupported image block (need base64 data or a local file): {sorted(block)}")


def to_chat(messages: list[BaseMessage]) -> tuple[list[dict], list[Image.Image]]:
    """LangChain messages → chat-template messages and the images in the order they appear."""
    chat: list[dict] = []
    images: list[Image.Image] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            chat.append({"role": "system", "content": message.text})
        elif isinstance(message, HumanMessage):
            if isinstance(message.content, str):
                chat.append({"role": "user", "content": message.content})
                continue
            parts = []
            for block in message.content:
                if isinstance(block, str):
                    parts.append({"type": "text", "text": block})
                elif block.get("type") in ("image", "image_url"):
                    images.append(_decode_image_block(block))
                    parts.append({"type": "image"})
                elif block.get("type") == "text":
                    parts.append({"type": "text", "text": block["text"]})
            chat.append({"role": "user", "content": parts})
        elif isinstance(message, AIMessage):
            chat.append({"role": "assistant", "content": message.text, "tool_calls": [
                {"type": "function", "function": {"name": c["name"], "arguments": c["args"]}}
                for c in message.tool_calls]})
        elif isinstance(message, ToolMessage):
            chat.append({"role": "tool", "content": message.text})
    return chat, images


def expand_image_pads(text: str, tokens_per_image: list[int]) -> str:
    """Repeat each image's placeholder once per visual token, as the Qwen processor does."""
    pieces = text.split(IMAGE_PAD)
    if len(pieces) - 1 != len(tokens_per_image):
        raise ValueError(f"{len(pieces) - 1} image placeholders for {len(tokens_per_image)} images")
    out = [pieces[0]]
    for count, piece in zip(tokens_per_image, pieces[1:], strict=True):
        out.append(IMAGE_PAD * count + piece)
    return "".join(out)


def load_text_and_vision(path: Path, max_pixels: int):
    """The tokenizer, the Pillow image processor and the chat template of a Qwen-VL directory
    (the model's own template when it renders tools and images, else ``qwen_vl_tools.jinja``):
    the one place inference and fine-tuning get them, so both see the same text."""
    from transformers import AutoTokenizer, Qwen2VLImageProcessorPil

    tokenizer = AutoTokenizer.from_pretrained(path)
    if (Path(path) / "preprocessor_config.json").is_file():
        processor = Qwen2VLImageProcessorPil.from_pretrained(path, max_pixels=max_pixels)
    else:
        processor = Qwen2VLImageProcessorPil(max_pixels=max_pixels)
    own = getattr(tokenizer, "chat_template", None)
    template = own if isinstance(own, str) and "tools" in own and "image" in own \
        else load_prompt("qwen_vl_tools.jinja")
    return tokenizer, processor, template


def vision_inputs(processor, images: list[Image.Image]) -> tuple[dict, list[int]]:
    """The image processor's output and the visual token count of each image."""
    vision = processor(images=images, return_tensors="pt")
    merge = getattr(processor, "merge_size", 2) ** 2
    return vision, [int(thw.prod()) // merge for thw in vision["image_grid_thw"]]


class QwenVLChatModel(BaseChatModel):
    """Qwen2-VL / Qwen2.5-VL in this process. Build with :meth:`from_path`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    lora_path: str | None = None
    max_new_tokens: int = 768
    temperature: float = 0.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    device: str | None = None
    dtype: str | None = None

    _model: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _image_processor: Any = PrivateAttr(default=None)
    _template: str | None = PrivateAttr(default=None)

    @classmethod
    def from_path(cls, model_path: str, lora_path: str | None = None, **kwargs) -> QwenVLChatModel:
        model = cls(model_path=model_path, lora_path=lora_path, **kwargs)
        model.load()
        return model

    @property
    def _llm_type(self) -> str:
        return "sinoloc-qwen-vl"

    @property
    def _identifying_params(self) -> dict:
        return {"model_path": self.model_path, "lora_path": self.lora_path}

    def load(self) -> None:
        try:
            from transformers import AutoModelForImageTextToText
        except ImportError as exc:
            raise LocalModelError("the local backend needs transformers: "
                                  "pip install '.[local]' in the sinoloc clone") from exc
        path = Path(self.model_path)
        check_model_dir(path)
        device, dtype = pick_device_and_dtype(self.device, self.dtype)
        self._tokenizer, self._image_processor, self._template = load_text_and_vision(
            path, self.max_pixels)
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype)
        if self.lora_path:
            try:
                from peft import PeftModel
            except ImportError as exc:
                raise LocalModelError("a LoRA adapter needs peft: pip install peft") from exc
            model = PeftModel.from_pretrained(model, self.lora_path).merge_and_unload()
        self._model = model.to(device).eval()

    def bind_tools(self, tools, *, tool_choice=None, **kwargs):
        """Bind tools (LangChain tools, pydantic models, functions or OpenAI dicts)."""
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def render(self, messages: list[BaseMessage], tools: list[dict] | None = None):
        """The prompt text (image placeholders expanded) and the image-processor output."""
        chat, images = to_chat(messages)
        text = self._tokenizer.apply_chat_template(
            chat, tools=tools or None, chat_template=self._template, tokenize=False,
            add_generation_prompt=True)
        vision = None
        if images:
            vision, counts = vision_inputs(self._image_processor, images)
            text = expand_image_pads(text, counts)
        return text, vision

    def _generate_text(self, text: str, vision) -> tuple[str, int, int]:
        import torch

        encoded = self._tokenizer(text, return_tensors="pt").to(self._model.device)
        inputs = dict(encoded)
        if vision is not None:
            inputs["pixel_values"] = vision["pixel_values"].to(self._model.device,
                                                               self._model.dtype)
            inputs["image_grid_thw"] = vision["image_grid_thw"].to(self._model.device)
        stop_ids = [i for i in (self._tokenizer.convert_tokens_to_ids("<|im_end|>"),
                                self._tokenizer.eos_token_id) if isinstance(i, int) and i >= 0]
        sampling = {"do_sample": True, "temperature": self.temperature} \
            if self.temperature > 0 else {"do_sample": False}
        with torch.inference_mode():
            output = self._model.generate(**inputs, max_new_tokens=self.max_new_tokens,
                                          eos_token_id=stop_ids or None,
                                          pad_token_id=self._tokenizer.pad_token_id, **sampling)
        prompt_len = encoded["input_ids"].shape[1]
        new = output[0, prompt_len:]
        return self._tokenizer.decode(new, skip_special_tokens=False), prompt_len, len(new)

    def _generate(self, messages, stop=None, run_manager=None, tools=None, **kwargs) -> ChatResult:
        if self._model is None:
            self.load()
        text, vision = self.render(messages, tools)
        raw, n_in, n_out = self._generate_text(text, vision)
        finished = bool(_END.search(raw)) or n_out < self.max_new_tokens
        prose, calls, invalid = parse_tool_calls(_END.sub("", raw))
        message = AIMessage(
            content=prose, tool_calls=calls, invalid_tool_calls=invalid,
            usage_metadata={"input_tokens": n_in, "output_tokens": n_out,
                            "total_tokens": n_in + n_out},
            response_metadata={"model_name": Path(self.model_path).name,
                               "finish_reason": "stop" if finished else "length"})
        return ChatResult(generations=[ChatGeneration(message=message)])
