"""The WeChat API client factory: one access token per app id in Redis, shared by every process.

wechatpy keeps the token in whatever storage it is given but has no lock, sets no HTTP timeouts
and retries a 40001 forever. Here the token lives in Redis, exactly one process refreshes it at a
time (the others wait for its result), every request has explicit connect/read timeouts, and a
refused token is refreshed and the call retried once.
"""
from __future__ import annotations

import secrets
import time

import requests
from flask import current_app
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException, WeChatOAuthException
from wechatpy.oauth import WeChatOAuth
from wechatpy.session.redisstorage import RedisStorage

from app.redis_conn import get_redis
from wechat.sandbox.transport import mount_sandbox

STORAGE_PREFIX = "anju:wechat"
LOCK_KEY = STORAGE_PREFIX + ":token_lock:{appid}"
# Refresh well before WeChat's 7,200 s so no call goes out with a token about to expire.
TOKEN_EXPIRY_MARGIN = 300
# Longer than one token call with its timeouts; a refresher that died frees the lock after this.
LOCK_TTL = 30
# 40001 invalid credential, 40014 invalid access_token, 42001 access_token expired.
TOKEN_ERRCODES = (40001, 40014, 42001)
SANDBOX_HOST_ORIGIN = "http://wechat-sandbox.invalid"


def api_base_url() -> str:
    """WECHAT_API_BASE_URL with exactly one trailing slash (the equivalent of api.weixin.qq.com/)."""
    return current_app.config["WECHAT_API_BASE_URL"].rstrip("/") + "/"


def timeouts() -> tuple[float, float]:
    """(connect, read) seconds for every WeChat API request."""
    config = current_app.config
    return float(config["WECHAT_HTTP_CONNECT_TIMEOUT"]), float(config["WECHAT_HTTP_READ_TIMEOUT"])


def http_session() -> requests.Session:
    """A requests session for the WeChat API; sandbox requests are served in-process by the app."""
    session = requests.Session()
    if api_base_url().startswith(SANDBOX_HOST_ORIGIN + "/"):
        mount_sandbox(session, current_app._get_current_object())
    return session


class AnjuWeChatClient(WeChatClient):
    """wechatpy's client with the token in Redis, a refresh lock, timeouts and one 40001 retry."""

    def __init__(self, appid: str, secret: str, *, redis, http: requests.Session, base_url: str,
                 timeout: tuple[float, float]):
        super().__init__(appid, secret, session=RedisStorage(redis, prefix=STORAGE_PREFIX),
                         timeout=timeout, auto_retry=False)
        self._http = http
        self._redis = redis
        self.base_url = base_url
        self.API_BASE_URL = base_url + "cgi-bin/"
        self.wxa.API_BASE_URL = base_url  # mini-program APIs are addressed from the root

    @property
    def access_token(self) -> str:
        """The shared token from Redis, fetched (by one process only) when there is none."""
        return self.session.get(self.access_token_key) or self.refresh_access_token()

    def refresh_access_token(self, stale: str | None = None) -> str:
        """A fresh token: fetched under the Redis lock, or the one another process just fetched.

        `stale` is a token WeChat refused: it does not count as fresh even if still cached.
        """
        lock_key = LOCK_KEY.format(appid=self.appid)
        owner = secrets.token_hex(8)
        deadline = time.monotonic() + LOCK_TTL
        while True:
            current = self.session.get(self.access_token_key)
            if current and current != stale:
                return current
            if self._redis.set(lock_key, owner, nx=True, ex=LOCK_TTL):
                try:
                    current = self.session.get(self.access_token_key)
                    if current and current != stale:
                        return current  # another process refreshed between our read and the lock
                    return self.fetch_access_token()["access_token"]
                finally:
                    self._release(lock_key, owner)
            if time.monotonic() > deadline:
                raise WeChatClientException(None, "timed out waiting for the access-token refresh",
                                            client=self)
            time.sleep(0.02)

    def _release(self, lock_key: str, owner: str) -> None:
        # Delete only our own lock (it may have expired and been taken by another process).
        with self._redis.pipeline() as pipe:
            try:
                pipe.watch(lock_key)
                held = pipe.get(lock_key)
                if held is not None and (held.decode() if isinstance(held, bytes) else held) == owner:
                    pipe.multi()
                    pipe.delete(lock_key)
                    pipe.execute()
                else:
                    pipe.unwatch()
            except Exception:  # noqa: BLE001 - the lock expires by itself; never fail the caller
                current_app.logger.warning("could not release the WeChat token lock")

    def fetch_access_token(self) -> dict:
        """Call cgi-bin/token (with timeouts, unlike wechatpy's) and store the token in Redis."""
        response = self._http.get(self.base_url + "cgi-bin/token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
        }, timeout=self.timeout)
        try:
            response.raise_for_status()
            result = response.json()
        except (requests.RequestException, ValueError):
            raise WeChatClientException(None, f"token call answered HTTP {response.status_code}",
                                        client=self, response=response) from None
        if result.get("errcode"):
            raise WeChatClientException(result["errcode"], result.get("errmsg"), client=self,
                                        response=response)
        expires_in = int(result.get("expires_in") or 7200)
        self.session.set(self.access_token_key, result["access_token"],
                         max(60, expires_in - TOKEN_EXPIRY_MARGIN))
        self.expires_at = int(time.time()) + expires_in
        return result

    def _request(self, method, url_or_endpoint, **kwargs):
        params = kwargs.setdefault("params", {})
        caller_token = isinstance(params, dict) and "access_token" in params
        try:
            return super()._request(method, url_or_endpoint, **kwargs)
        except WeChatClientException as exc:
            if caller_token or exc.errcode not in TOKEN_ERRCODES:
                raise
            # The shared token was refused (revoked, or a refresh elsewhere outdated it): refresh
            # once and retry once. wechatpy's own retry would loop for as long as WeChat refuses.
            stale = params.pop("access_token", None)
            self.refresh_access_token(stale=stale)
            return super()._request(method, url_or_endpoint, **kwargs)


class AnjuWeChatOAuth(WeChatOAuth):
    """wechatpy's web OAuth with a configurable base URL, our HTTP session and timeouts."""

    def __init__(self, app_id, secret, redirect_uri, *, http, base_url, timeout, **kwargs):
        super().__init__(app_id, secret, redirect_uri, **kwargs)
        self._http = http
        self.API_BASE_URL = base_url
        self.timeout = timeout

    def _request(self, method, url_or_endpoint, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        try:
            return super()._request(method, url_or_endpoint, **kwargs)
        except ValueError:  # not JSON at all
            raise WeChatOAuthException(None, "answer is not JSON", client=self) from None


def _clients() -> dict:
    return current_app.extensions.setdefault("anju_wechat_clients", {})


def get_client() -> AnjuWeChatClient:
    """The official account's API client (cached per app; the token itself lives in Redis)."""
    return _client("official_account", "WECHAT_APP_ID", "WECHAT_APP_SECRET")


def get_miniapp_client() -> AnjuWeChatClient:
    """The mini-program's API client (subscribe messages)."""
    return _client("miniapp", "WECHAT_MINIAPP_ID", "WECHAT_MINIAPP_SECRET")


def _client(kind: str, id_key: str, secret_key: str) -> AnjuWeChatClient:
    clients = _clients()
    client = clients.get(kind)
    if client is None:
        config = current_app.config
        if not config.get(id_key) or not config.get(secret_key):
            raise RuntimeError(f"{id_key} and {secret_key} must be configured")
        client = AnjuWeChatClient(config[id_key], config[secret_key], redis=get_redis(),
                                  http=http_session(), base_url=api_base_url(), timeout=timeouts())
        clients[kind] = client
    return client


def get_oauth(redirect_uri: str, scope: str = "snsapi_base", state: str = "") -> AnjuWeChatOAuth:
    """A web-OAuth helper for the official account (H5 pages)."""
    config = current_app.config
    return AnjuWeChatOAuth(config["WECHAT_APP_ID"], config["WECHAT_APP_SECRET"], redirect_uri,
                           scope=scope, state=state, http=http_session(), base_url=api_base_url(),
                           timeout=timeouts())


def get_json(path: str, params: dict) -> dict:
    """GET an API path that needs no access token (e.g. sns/jscode2session); errcode → exception."""
    response = http_session().get(api_base_url() + path, params=params, timeout=timeouts())
    try:
        response.raise_for_status()
        result = response.json()
    except (requests.RequestException, ValueError):
        raise WeChatClientException(None, f"answered HTTP {response.status_code}",
                                    response=response) from None
    if not isinstance(result, dict):
        raise WeChatClientException(None, "answer is not a JSON object", response=response)
    if result.get("errcode"):
        raise WeChatClientException(result["errcode"], result.get("errmsg"), response=response)
    return result
