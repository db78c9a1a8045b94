"""Weight and vision recognition. Pure Python and NumPy: this package must never import Django."""
