"""Real-time market data: one Redis stream reader per market and per web process (the
hub), local fan-out to WebSocket connections through bounded per-connection queues, and
wire formats that encode each frame once per message. See docs/MARKETDATA.md."""
