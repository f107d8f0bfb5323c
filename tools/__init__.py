"""Offline tools of the geolocator: regions, coordinate systems, images, OCR, clues, knowledge.

Each module exposes plain typed functions first; LangChain tool wrappers are thin layers on top.
"""
