"""The proxy for the API's host, resolved once from the environment or given."""

from __future__ import annotations

import urllib.request

import aiohttp
from yarl import URL

__all__ = ["env_proxy", "proxy_and_auth"]


def env_proxy(base_url: str) -> str | None:
    """The proxy `HTTP_PROXY`/`HTTPS_PROXY` name for `base_url`, unless `NO_PROXY` exempts
    its host (the environment lookup of urllib, done once)."""
    url = URL(base_url)
    proxies = urllib.request.getproxies_environment()
    if url.host and urllib.request.proxy_bypass(url.host):
        return None
    return proxies.get(url.scheme)


def proxy_and_auth(proxy: str | None) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """A proxy URL without its credentials, and the credentials as aiohttp's proxy auth."""
    if proxy is None:
        return None, None
    url = URL(proxy)
    if url.user is None:
        return url, None
    return url.with_user(None), aiohttp.BasicAuth(url.user, url.password or "")
