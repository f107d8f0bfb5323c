"""Online evidence: map geocoders (Amap, Baidu, Tencent, Nominatim) and web search, behind one
SQLite cache and per-provider rate limits, with every outbound query recorded.

Coordinates leave each adapter in WGS-84 (GCJ-02 and BD-09 are converted there and nowhere
else). Every failure is a :class:`ProviderFailure` with a kind and a reason; callers turn it
into an "unavailable" or "no result" answer and go on.
"""
