"""weavr-async: asyncio SDK for the Weavr Multi Product BackOffice API (v3)."""
