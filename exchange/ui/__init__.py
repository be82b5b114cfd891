"""Browser pages of the exchange: landing, trading, wallet and account overview.

Views only pick the market and render; every number on these pages comes from the
other apps' REST endpoints and WebSocket streams, called by the page's ES modules
(static/js/), so the browser and the API clients see exactly the same data."""
