"""tools/clues"""
