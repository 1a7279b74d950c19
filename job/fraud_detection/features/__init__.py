"""The features step: per-payment card, customer and terminal history features of one day."""
