"""Demo data: a real item catalogue, four department source profiles and an export generator."""
