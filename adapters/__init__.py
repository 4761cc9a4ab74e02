"""Adapters: sources that bring department systems onto the bus, and their mappings."""
