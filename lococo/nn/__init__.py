"""Reusable neural-network modules: encoders with local and global features, critics, etc."""
