"""Event contracts: the envelope, payloads per family, identifiers, rules and codecs.

This package imports nothing else of zwbus, so other languages' teams can
read it as the specification of what travels on the bus.
"""
