"""tools/knowledge"""
