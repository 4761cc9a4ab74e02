"""Projections: checkpointed consumers that build read models from the streams."""
