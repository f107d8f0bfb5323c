"""The two photos the chat tests send: the Hangzhou shop and a Chengdu street sign (shared by the
in-process chat tests and the pseudo-terminal one)."""

from pathlib import Path

from imaging import draw_sign, hangzhou_shop, street_scene


def chat_images(folder: Path) -> tuple[Path, Path]:
    shop = folder / "shop.jpg"
    hangzhou_shop(shop)
    chengdu = street_scene(seed=5)
    draw_sign(chengdu, ["成都市武侯区人民南路四段", "电话028-85551234"], (120, 160), size=46)
    chengdu_path = folder / "chengdu.jpg"
    chengdu.save(chengdu_path, quality=92)
    return shop, chengdu_path
