"""The ingestion core shared by every source: outcomes, write-side state, quarantine."""
