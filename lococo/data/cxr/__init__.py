"""Chest X-rays with radiology reports (Open-I / NLMCXR): reader, MeSH labels, splits, views,
GloVe vectors, report tokeniser, synthetic generator and ``lococo data check --format openi``."""
