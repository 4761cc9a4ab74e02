"""Replay: reading history by time, sequence and subject."""
