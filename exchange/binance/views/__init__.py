"""Views of the Binance-compatible /api/v3, split by Binance's sections."""
