"""The network: a transformers vision backbone and three linear heads decoded top-down.

``log p(d) = log p(province) + log p(city | province) + log p(d | city)``: the city head's
logits are normalised among the cities of each province, the district head's among the districts
of each city (the label space's parent links), so the three levels never disagree. Dividing all
logits by the calibration temperature before the normalisations calibrates every level at once.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from sinoloc.tools.prior import PriorUnavailable
from sinoloc.tools.prior.labels import LabelSpace

POOLED, CLIP_EMBEDS = "pooled", "clip_embeds"


def load_backbone(spec: str) -> tuple[nn.Module, str]:
    """The vision backbone named by ``spec`` (a local directory or a Hugging Face id, through
    the normal ``from_pretrained`` path) and how to read features from it: a CLIP checkpoint
    gives its vision tower with the projection (normalised image embeddings, the space its text
    prompts live in); any other vision model its pooled output."""
    from transformers import AutoConfig, AutoModel, CLIPVisionModelWithProjection

    local = Path(spec).expanduser()
    if local.exists() and not (local / "config.json").is_file():
        raise PriorUnavailable(f"backbone {spec}: the directory has no config.json (save it "
                               "with save_pretrained, or give a Hugging Face model id)")
    source = str(local) if local.exists() else spec
    if not local.exists() and not hub_cached(spec) and not hub_reachable():
        raise PriorUnavailable(backbone_unreachable(spec))  # at once: no retry loop offline
    try:
        config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise PriorUnavailable(f"{backbone_unreachable(spec)} ({exc.__class__.__name__})") \
            from exc
    try:
        with quiet_loading():
            if config.model_type == "clip":  # the vision tower and projection only
                vision = config.vision_config
                vision.projection_dim = config.projection_dim  # not always in vision_config
                return CLIPVisionModelWithProjection.from_pretrained(
                    source, config=vision), CLIP_EMBEDS
            model = AutoModel.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise PriorUnavailable(f"backbone {spec!r}: the weights cannot be loaded ({exc})") from exc
    if "pixel_values" not in inspect.signature(model.forward).parameters:
        raise PriorUnavailable(f"backbone {spec!r} ({config.model_type}) is not a vision model")
    return model, POOLED


def backbone_unreachable(spec: str) -> str:
    return (f"backbone {spec!r} is neither a local model directory nor a Hugging Face model "
            "in this machine's cache, and the hub cannot be reached from here. Where there is "
            f"network run `hf download {spec}` (it fills the cache this machine reads), or copy "
            "the model directory here and pass its path")


def hub_cached(spec: str) -> bool:
    """Whether the hub model ``spec`` is in the local cache (its config.json, at least)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(spec, "config.json"), str)
    except ValueError:  # not a valid repo id
        return False


HUB_HOST, HUB_PROBE_S = "huggingface.co", 3.0


def hub_reachable() -> bool:
    """False at once when the hub is switched off (HF_HUB_OFFLINE, an offline run) or one
    connection attempt fails within a few seconds: from_pretrained would otherwise retry for
    about a minute before saying the same."""
    import socket

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=HUB_PROBE_S):
            return True
    except OSError:
        return False


@contextmanager
def quiet_loading():
    """No "Loading weights" bar or load report in the middle of a locate's output."""
    from transformers.utils import logging as hf_logging

    enabled, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()  # a CLIP's text tower is left out on purpose
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if enabled:
            hf_logging.enable_progress_bar()


def backbone_features(backbone: nn.Module, kind: str, pixel_values: torch.Tensor) -> torch.Tensor:
    out = backbone(pixel_values=pixel_values)
    if kind == CLIP_EMBEDS:
        return nn.functional.normalize(out.image_embeds, dim=-1)
    pooled = getattr(out, "pooler_output", None)
    if pooled is None:
        hidden = out.last_hidden_state
        pooled = hidden.mean(dim=(-2, -1)) if hidden.dim() == 4 else hidden[:, 0]
    return pooled.flatten(1)


def conditional_log_softmax(logits: torch.Tensor, parent: torch.Tensor, groups: int) -> torch.Tensor:
    """``log softmax`` of each column among the columns sharing its parent."""
    batch = logits.shape[0]
    index = parent.unsqueeze(0).expand(batch, -1)
    peak = torch.full((batch, groups), float("-inf"), dtype=logits.dtype, device=logits.device)
    peak = peak.scatter_reduce(1, index, logits.detach(), reduce="amax", include_self=True)
    shifted = logits - peak.gather(1, index)
    totals = torch.zeros((batch, groups), dtype=logits.dtype, device=logits.device)
    totals = totals.index_add(1, parent, shifted.exp())
    return shifted - totals.log().gather(1, index)


class HierarchicalHeads(nn.Module):
    """Province, city and district heads over a feature vector, and their top-down decoding."""

    # buffers (registered in __init__): declared so that they read as tensors, not as modules
    feature_mean: torch.Tensor
    feature_scale: torch.Tensor
    city_parent: torch.Tensor
    district_parent: torch.Tensor

    def __init__(self, feature_dim: int, space: LabelSpace, dropout: float = 0.0):
        super().__init__()
        provinces, cities, districts = space.sizes
        self.dropout = nn.Dropout(dropout)
        self.province = nn.Linear(feature_dim, provinces)
        self.city = nn.Linear(feature_dim, cities)
        self.district = nn.Linear(feature_dim, districts)
        # features are standardised with the training set's statistics (set by the trainer;
        # a zero-shot prior keeps 0 and 1): a linear probe on raw features learns slowly
        self.register_buffer("feature_mean", torch.zeros(feature_dim))
        self.register_buffer("feature_scale", torch.ones(feature_dim))
        self.register_buffer("city_parent", torch.tensor(space.city_parent), persistent=False)
        self.register_buffer("district_parent", torch.tensor(space.district_parent),
                             persistent=False)

    def forward(self, features: torch.Tensor, temperature: float = 1.0):
        """Log-probabilities ``(province, city | province, district | city)``."""
        features = self.dropout((features - self.feature_mean) / self.feature_scale)
        t = float(temperature)
        province = torch.log_softmax(self.province(features) / t, dim=-1)
        city = conditional_log_softmax(self.city(features) / t, self.city_parent,
                                       self.province.out_features)
        district = conditional_log_softmax(self.district(features) / t, self.district_parent,
                                           self.city.out_features)
        return province, city, district

    def standardise(self, features: torch.Tensor) -> None:
        """Set the feature statistics from training features (rows)."""
        self.feature_mean.copy_(features.mean(dim=0))
        self.feature_scale.copy_(features.std(dim=0).clamp_min(1e-6) if len(features) > 1
                                 else torch.ones_like(self.feature_scale))

    def log_joint(self, features: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Log-probability of every district of the space, top-down."""
        province, city, district = self(features, temperature)
        city_joint = city + province[:, self.city_parent]
        return district + city_joint[:, self.district_parent]


class PriorModel(nn.Module):
    def __init__(self, backbone: nn.Module, feature_kind: str, heads: HierarchicalHeads):
        super().__init__()
        self.backbone = backbone
        self.feature_kind = feature_kind
        self.heads = heads

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return backbone_features(self.backbone, self.feature_kind, pixel_values)

    def log_joint(self, pixel_values: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        return self.heads.log_joint(self.features(pixel_values), temperature)


def feature_dim(backbone: nn.Module, kind: str, size: int) -> int:
    """The width of the backbone's features, found by running it once."""
    backbone.eval()
    with torch.inference_mode():
        return int(backbone_features(backbone, kind, torch.zeros(1, 3, size, size)).shape[-1])


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PriorUnavailable("--device cuda, but torch sees no CUDA device")
    return torch.device(name)
