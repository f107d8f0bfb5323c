"""Distilling a strong model's reasoning into a local Qwen-VL: chain-of-thought data from a
teacher (``make_data``) and LoRA fine-tuning on it (``train``)."""
