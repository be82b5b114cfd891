"""The Binance Spot-compatible front door (/api/v3): a thin layer over our services."""
