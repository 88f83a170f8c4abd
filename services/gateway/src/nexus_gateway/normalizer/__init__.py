"""The normalizer: universal symbols and quantities to each venue's, and venue reports back."""
