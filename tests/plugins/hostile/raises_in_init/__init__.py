from typing import Any


class RaisingPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        raise ValueError("raises_in_init: configuration key 'api_url' is missing")
