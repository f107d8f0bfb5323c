"""Tiny random Qwen2-VL / Qwen2.5-VL models saved with ``save_pretrained``, and a byte-level BPE
tokenizer trained here with the ``tokenizers`` library: the real loading code runs on them
offline in well under a second."""

from __future__ import annotations

from pathlib import Path

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
           "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<tool_response>",
           "</tool_response>"]
CORPUS = ['{"name": "submit_answer", "arguments": {"province": "浙江省", "lat": 30.2}}',
          "ocr lookup_clues geocode_poi reverse_geocode web_search cnn_prior 杭州市 西湖区",
          "You are sinoloc. Locate this photo. evidence E1 E2 E3 system user assistant"]


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>")


def save_tiny_qwen(directory: Path, kind: str = "qwen2_vl") -> Path:
    """Save a random model of ``kind`` (qwen2_vl | qwen2_5_vl) with tokenizer and image
    processor into ``directory``."""
    from transformers import Qwen2VLImageProcessorPil

    tokenizer = build_tokenizer()
    ids = {s: tokenizer.convert_tokens_to_ids(s) for s in SPECIAL}
    text = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=4096, bos_token_id=ids["<|endoftext|>"],
                eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
                rope_parameters={"rope_type": "default", "mrope_section": [2, 1, 1],
                                 "rope_theta": 10000.0})
    tokens = dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                  vision_start_token_id=ids["<|vision_start|>"],
                  vision_end_token_id=ids["<|vision_end|>"])
    if kind == "qwen2_vl":
        from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

        config = Qwen2VLConfig(text_config=text, vision_config=dict(
            depth=1, embed_dim=32, hidden_size=32, num_heads=2, mlp_ratio=2), **tokens)
        model = Qwen2VLForConditionalGeneration(config)
    elif kind == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

        config = Qwen2_5_VLConfig(text_config=text, vision_config=dict(
            depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
            fullatt_block_indexes=[1], window_size=56), **tokens)
        model = Qwen2_5_VLForConditionalGeneration(config)
    else:
        raise ValueError(kind)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    Qwen2VLImageProcessorPil(max_pixels=112 * 112).save_pretrained(directory)
    return Path(directory)


def save_tiny_lora(model_dir: Path, directory: Path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    base = AutoModelForImageTextToText.from_pretrained(model_dir)
    lora = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"],
                                           init_lora_weights=False))
    lora.save_pretrained(directory)
    return Path(directory)
