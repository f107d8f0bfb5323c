"""Which online providers a run may use, and their keys: from the environment or the config
file (``<user config dir>/sinoloc/config.toml``); keys are ``SecretStr`` so they never print.

```toml
[online]
geocoders = ["amap", "tencent", "baidu", "nominatim"]   # the order of the chain (also amap_mcp)
amap_mcp = "npx -y @amap/amap-maps-mcp-server@0.0.8"    # or a URL (SINOLOC_AMAP_MCP)
web_search = true                                     # ddgs
static_maps = ["tencent", "amap", "tianditu"]         # map images a model may look at
allow_personal_numbers = false
cache_ttl_days = 30

[keys]
amap = "…"       # or AMAP_KEY
baidu = "…"      # or BAIDU_MAP_AK
tencent = "…"    # or TENCENT_MAP_KEY
tianditu = "…"   # or TIANDITU_KEY (map images only)
```

By default a provider that needs a key is used when its key is present (for geocoding and,
for Tencent, Amap and Tianditu, the map images of the ``map_view`` tool); Nominatim and web
search (no key) only when listed or switched on, so the embedded default sends nothing.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

KEYED = ("amap", "tencent", "baidu")
GEOCODERS = (*KEYED, "nominatim", "amap_mcp")  # amap_mcp: Amap's MCP server, only when listed
KEY_OF = {"amap_mcp": "amap"}  # providers that use another provider's key
STATIC_MAPS = ("tencent", "amap", "tianditu")  # map images (the map_view tool): road, satellite
KEY_ENV = {"amap": ("AMAP_KEY", "SINOLOC_AMAP_KEY"),
           "baidu": ("BAIDU_MAP_AK", "SINOLOC_BAIDU_AK"),
           "tencent": ("TENCENT_MAP_KEY", "SINOLOC_TENCENT_KEY"),
           "tianditu": ("TIANDITU_KEY", "SINOLOC_TIANDITU_KEY")}
ENV_CONFIG = "SINOLOC_CONFIG"
ENV_OFFLINE = "SINOLOC_OFFLINE"
ENV_GEOCODERS = "SINOLOC_GEOCODERS"
ENV_STATIC_MAPS = "SINOLOC_STATIC_MAPS"
ENV_WEB_SEARCH = "SINOLOC_WEB_SEARCH"
ENV_ALLOW_NUMBERS = "SINOLOC_ALLOW_PERSONAL_NUMBERS"
ENV_USER_AGENT = "SINOLOC_USER_AGENT"
ENV_AMAP_MCP = "SINOLOC_AMAP_MCP"
DEFAULT_USER_AGENT = "sinoloc/0.1 (photo geolocation research tool; set SINOLOC_USER_AGENT)"


class ConfigError(ValueError):
    """A config file or setting that cannot be used; the message says which and why."""


class OnlineConfig(BaseModel):
    offline: bool = False
    geocoders: list[str] = Field(default_factory=list, description="the chain, in order")
    web_search: bool = False
    static_maps: list[str] = Field(default_factory=list, description=(
        "providers of map images for a model to look at, in order (tencent and tianditu: road "
        "and satellite; amap: road)"))
    allow_personal_numbers: bool = False
    keys: dict[str, SecretStr] = Field(default_factory=dict)
    user_agent: str = DEFAULT_USER_AGENT
    amap_mcp: str | None = Field(default=None, description=(
        "the Amap MCP server of the amap_mcp geocoder: a Streamable HTTP URL or a command that "
        "starts it over stdio (None: npx -y @amap/amap-maps-mcp-server@0.0.8)"))
    timeout_s: float = Field(default=10.0, gt=0)
    cache_ttl_days: float = Field(default=30.0, ge=0)

    def key(self, provider: str) -> str | None:
        secret = self.keys.get(KEY_OF.get(provider, provider))
        return secret.get_secret_value() if secret else None


def env_flag(name: str) -> bool | None:
    """A yes/no environment switch (1 / true / yes / on); None when unset or empty."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


def config_path() -> Path:
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env)
    from platformdirs import user_config_dir

    return Path(user_config_dir("sinoloc")) / "config.toml"


def read_file(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _keys(data: dict) -> dict[str, SecretStr]:
    """The providers' keys: the environment's over the config file's ``[keys]``."""
    keys: dict[str, SecretStr] = {k: SecretStr(str(v)) for k, v in data.get("keys", {}).items() if v}
    for provider, names in KEY_ENV.items():
        for name in names:
            if os.environ.get(name):
                keys[provider] = SecretStr(os.environ[name])
                break
    return keys


def _providers(online: dict, field: str, env: str, with_keys: list[str]) -> list[str]:
    """A provider list: the environment's (comma-separated), else the file's, else the keyed
    providers whose key is present."""
    listed = os.environ.get(env)
    if listed is not None:
        return [p.strip().lower() for p in listed.split(",") if p.strip()]
    return list(online.get(field, with_keys))


def load_config(path: Path | None = None) -> OnlineConfig:
    """The environment over the config file over the defaults."""
    data = read_file(path or config_path())
    online = dict(data.get("online", {}))
    keys = _keys(data)
    for field, env, keyed, known, what in (
            ("geocoders", ENV_GEOCODERS, KEYED, GEOCODERS, "geocoders"),
            ("static_maps", ENV_STATIC_MAPS, STATIC_MAPS, STATIC_MAPS, "static map providers")):
        online[field] = _providers(online, field, env, [p for p in keyed if p in keys])
        unknown = set(online[field]) - set(known)
        if unknown:
            raise ConfigError(f"unknown {what} {sorted(unknown)}; choose from {list(known)}")
    for env, field in ((ENV_OFFLINE, "offline"), (ENV_WEB_SEARCH, "web_search"),
                       (ENV_ALLOW_NUMBERS, "allow_personal_numbers")):
        value = env_flag(env)
        if value is not None:
            online[field] = value
    if os.environ.get(ENV_USER_AGENT):
        online["user_agent"] = os.environ[ENV_USER_AGENT]
    if os.environ.get(ENV_AMAP_MCP, "").strip():
        online["amap_mcp"] = os.environ[ENV_AMAP_MCP].strip()
    try:
        return OnlineConfig(**online, keys=keys)
    except ValueError as exc:
        raise ConfigError(f"online settings: {exc}") from exc


def get_config() -> OnlineConfig:
    """Read at each use (a stat and a small file): keys and switches changed in the
    environment take effect without a restart."""
    return load_config()
