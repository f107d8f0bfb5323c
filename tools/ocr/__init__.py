"""tools/ocr"""
