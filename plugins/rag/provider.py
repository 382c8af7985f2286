"""An OpenAI-compatible chat completions endpoint as the answer generator (``ai_provider``).

Plain ``http.client``: one POST to ``<base_url>/chat/completions`` with the numbered context
and the question, the key from ``RAG_AI_API_KEY`` as a bearer token when set. Only http and
https URLs are accepted, and the sandbox lets the worker reach only the configured host.
"""

from __future__ import annotations

import http.client
import json
import os
from typing import Any, Final
from urllib.parse import urlsplit

from .errors import ProviderError
from .settings import ProviderSettings

__all__ = ["OpenAICompatibleProvider"]

# Error bodies are quoted this far, so a failure says what the server said without a dump.
ERROR_BODY_CHARS: Final = 300
MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024
SYSTEM_PROMPT: Final = (
    "You answer questions using only the numbered context passages you are given. "
    "Cite the passages you use as [n]. If the passages do not contain the answer, say that "
    "the documents do not answer the question. Do not use any other knowledge."
)


class OpenAICompatibleProvider:
    def __init__(self, settings: ProviderSettings) -> None:
        parts = urlsplit(settings.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProviderError(
                f"configuration.ai_provider.base_url {settings.base_url!r} is not an http(s) URL"
            )
        self._settings = settings
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path.rstrip("/") + "/chat/completions"
        self.model = settings.model
        self.endpoint = f"{parts.scheme}://{parts.netloc}{self._path}"

    def generate(self, question: str, context: str) -> str:
        body = json.dumps(
            {
                "model": self._settings.model,
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
                ],
                "temperature": self._settings.temperature,
                "max_tokens": self._settings.max_tokens,
            }
        ).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get("RAG_AI_API_KEY")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        status, payload = self._post(body, headers)
        if status != http.client.OK:
            snippet = payload[:ERROR_BODY_CHARS].decode("utf-8", "replace")
            raise ProviderError(f"{self.endpoint} answered HTTP {status}: {snippet}")
        return _content(payload, self.endpoint)

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        timeout = self._settings.timeout
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            connection.request("POST", self._path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read(MAX_RESPONSE_BYTES)
        except (OSError, http.client.HTTPException) as exc:
            raise ProviderError(f"cannot reach {self.endpoint}: {exc}") from exc
        finally:
            connection.close()


def _content(payload: bytes, endpoint: str) -> str:
    try:
        data: Any = json.loads(payload)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ProviderError(
            f"{endpoint} did not answer in the chat completions format "
            f"(choices[0].message.content): {exc!r}"
        ) from exc
    if not isinstance(content, str) or not content.strip():
        raise ProviderError(f"{endpoint} answered with an empty message")
    return content.strip()
