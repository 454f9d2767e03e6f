"""ZFS: zero-shot learning from scratch (thesis ch. 4, app. A)."""
