"""Redis key names of market data. Every key of one market shares the hash tag
``{SYMBOL}`` so that, in a Redis Cluster, they live in one slot and the publish script
can touch them atomically (DESIGN §9)."""


def depth_key(market: str) -> str:
    """Hash: ``snapshot`` (JSON, all levels), ``seq`` and ``id`` (stream entry that
    produced it). Written atomically with the stream entry by the publish script."""
    return f"{{{market}}}:depth"


def seq_key(market: str) -> str:
    """Counter of publish calls; each stream entry carries the next value, so a reader
    detects a trimmed or lost entry as a gap."""
    return f"{{{market}}}:mdseq"


def stream_key(market: str) -> str:
    """Stream of public events of one market, one entry per committed batch."""
    return f"{{{market}}}:md"


PRIVATE_STREAM = "{private}:events"
PRIVATE_SEQ = "{private}:seq"


def listen_key_key(listen_key: str) -> str:
    return f"listenkey:{listen_key}"


def ticker_cache_key(market: str) -> str:
    return f"{{{market}}}:ticker"
