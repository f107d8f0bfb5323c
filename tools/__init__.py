"""Offline tools of the geolocator: regions, coordinate systems, images, OCR, clues, knowledge.

Each module exposes plain typed functions first; the LangChain tool wrappers live a layer up, in
:mod:`sinoloc.agent.toolbox.langchain` (``sinoloc.get_tools(image)`` returns them over one image).
"""
