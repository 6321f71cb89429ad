"""Domain rules. Services take plain values or loaded models, flush, and never commit."""
