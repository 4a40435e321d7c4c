#!/usr/bin/env python3
"""Drives the official MCP Python SDK (PyPI `mcp`) against dcr-bridge, headless.

The SDK does everything an MCP client does on its own: its streamable HTTP transport gets a 401
from the MCP server, and its `OAuthClientProvider` (an httpx2 auth flow) discovers the protected
resource metadata and the authorization server metadata (validating the issuer), registers the
client (RFC 7591, or uses its client ID metadata document URL as the client_id), builds the
authorization request (PKCE, state, resource, scope), validates the authorization response
(state, RFC 9207 iss) and exchanges the code. Only the user's part is
scripted: `redirect_handler` walks the browser leg with its own httpx2 client (a per-origin cookie
jar, redirects followed by hand) through dcr-bridge's consent page, the upstream oidc-provider's
devInteractions login + consent, and dcr-bridge's /oauth/callback, up to the redirect to the
client's redirect_uri, whose code/state/iss go to `callback_handler`.

Then the session initializes, lists tools and calls `whoami` on the MCP server behind dcr-bridge's
gateway, the stored token is marked expired and another request makes the SDK refresh it.

Usage:
  python sdk_flow.py --server-url http://127.0.0.1:PORT/mcp [--login 00u1alice] [--password x]
      [--redirect-uri http://127.0.0.1:33419/callback] [--client-name python-sdk-interop]
      [--no-refresh] [--timeout 15]
      [--client-metadata-url https://…/client.json]   use CIMD instead of DCR when the AS
                          advertises client_id_metadata_document_supported

stdout: exactly ONE JSON line.
  success: {"tokens":…, "refreshed_tokens":…, "tools":[…], "whoami":"…", "client_info":…,
            "authorization_server_metadata":…, "registration_request":…, "mcp_version":"…",
            "steps":[…]}                                                              exit 0
  failure: {"error":"…", "steps":[…]}                                                 exit 1
Steps never contain secrets: code/tokens/verifier/password/csrf values are redacted.
"""

from __future__ import annotations

import argparse
import html as htmllib
import json
import logging
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from importlib.metadata import version as pkg_version
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

STEPS: list[dict[str, Any]] = []

SECRET_PARAMS = {
    "code",
    "code_verifier",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "csrf_token",
    "token",
    "assertion",
    "client_assertion",
}


def emit(code: int, obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
    sys.exit(code)


def redact_url(url: str) -> str:
    try:
        parts = urlsplit(str(url))
        q = [(k, "REDACTED" if k in SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(q), ""))
    except Exception:  # noqa: BLE001
        return "<unparseable url>"


def origin_of(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


def text_snippet(html: str, n: int = 300) -> str:
    t = re.sub(r"<script[\s\S]*?</script>|<style[\s\S]*?</style>", " ", html, flags=re.I)
    t = htmllib.unescape(re.sub(r"<[^>]+>", " ", t))
    t = re.sub(r"\s+", " ", t).strip()
    return t if len(t) <= n else t[:n] + "…"


# ------------------------------------------------------------------ minimal HTML form parsing
ATTR_RE = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")


def parse_attrs(s: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in ATTR_RE.finditer(s):
        val = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4)
        out[m.group(1).lower()] = htmllib.unescape(val or "")
    return out


@dataclass
class Form:
    attrs: dict[str, str]
    inputs: list[dict[str, str]] = field(default_factory=list)
    buttons: list[dict[str, str]] = field(default_factory=list)

    def input(self, name: str) -> dict[str, str] | None:
        return next((i for i in self.inputs if i.get("name") == name), None)

    def body(self, extra: dict[str, str]) -> str:
        pairs: list[tuple[str, str]] = []
        for i in self.inputs:
            if i["type"] in ("checkbox", "radio") and "checked" not in i:
                continue
            if i["name"] not in extra:
                pairs.append((i["name"], i.get("value", "")))
        pairs.extend(extra.items())
        return urlencode(pairs)


def parse_forms(html: str) -> list[Form]:
    forms = []
    for fm in re.finditer(r"<form\b([^>]*)>([\s\S]*?)</form\s*>", html, flags=re.I):
        form = Form(attrs=parse_attrs(fm.group(1)))
        for cm in re.finditer(r"<(input|button)\b([^>]*)>", fm.group(2), flags=re.I):
            a = parse_attrs(cm.group(2))
            default = "submit" if cm.group(1).lower() == "button" else "text"
            a["type"] = (a.get("type") or default).lower()
            if a["type"] in ("submit", "image"):
                form.buttons.append(a)
            elif "name" in a:
                form.inputs.append(a)
        forms.append(form)
    return forms


# ------------------------------------------------------------------ scripted browser
@dataclass
class Cookie:
    name: str
    value: str
    path: str
    same_site: str
    expires: float | None


class Browser:
    """A user agent: one cookie jar per host:port (dcr-bridge and the upstream share 127.0.0.1 but
    must not see each other's cookies), SameSite enforced treating each origin as its own site
    (Strict cookies are not sent when the initiator or the redirect chain crosses origins; Lax ones
    only on GET), redirects followed by hand until one targets the client's redirect_uri."""

    def __init__(self, httpx2: Any, timeout: float) -> None:
        # No automatic redirects; httpx2's own cookie jar is cleared after every response.
        self.client = httpx2.AsyncClient(follow_redirects=False, timeout=timeout)
        self.jar: dict[str, dict[tuple[str, str], Cookie]] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    def store(self, url: str, res: Any) -> None:
        p = urlsplit(url)
        default_path = p.path[: p.path.rfind("/")] if p.path.rfind("/") > 0 else "/"
        m = self.jar.setdefault(p.netloc, {})
        for sc in res.headers.get_list("set-cookie"):
            parts = sc.split(";")
            nv = parts.pop(0)
            if "=" not in nv:
                continue
            name, value = nv.split("=", 1)
            c = Cookie(name.strip(), value.strip(), default_path, "lax", None)
            for attr in parts:
                k, _, v = attr.partition("=")
                k, v = k.strip().lower(), v.strip()
                if k == "path" and v.startswith("/"):
                    c.path = v
                elif k == "max-age" and re.fullmatch(r"-?\d+", v):
                    c.expires = time.time() + int(v)
                elif k == "samesite":
                    c.same_site = v.lower()
            key = (c.name, c.path)
            if c.expires is not None and c.expires <= time.time():
                m.pop(key, None)
            else:
                m[key] = c
        self.client.cookies.clear()

    def cookie_header(self, url: str, cross_site: bool, method: str) -> str | None:
        p = urlsplit(url)
        m = self.jar.get(p.netloc, {})
        send = []
        for key, c in list(m.items()):
            if c.expires is not None and c.expires <= time.time():
                del m[key]
                continue
            path_ok = p.path == c.path or (
                p.path.startswith(c.path) and (c.path.endswith("/") or p.path[len(c.path) : len(c.path) + 1] == "/")
            )
            if not path_ok:
                continue
            if cross_site and (c.same_site == "strict" or (c.same_site != "none" and method != "GET")):
                continue
            send.append(c)
        send.sort(key=lambda c: -len(c.path))
        return "; ".join(f"{c.name}={c.value}" for c in send) or None

    async def navigate(
        self, url: str, *, is_captured: Any, method: str = "GET", body: str | None = None, initiator: str | None = None
    ) -> dict[str, Any]:
        chain: list[str] = []
        for _ in range(25):
            origins = [o for o in [initiator, *chain] if o]
            here = origin_of(url)
            cross = any(o != here for o in origins)
            headers = {
                "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "user-agent": "Mozilla/5.0 (dcr-bridge python interop harness)",
                "sec-fetch-mode": "navigate",
                "sec-fetch-dest": "document",
                "sec-fetch-site": "none" if not origins else "same-origin" if not cross else "same-site",
                "sec-fetch-user": "?1",
            }
            cookie = self.cookie_header(url, cross, method)
            if cookie:
                headers["cookie"] = cookie
            if method not in ("GET", "HEAD"):
                headers["content-type"] = "application/x-www-form-urlencoded"
                same = initiator is not None and all(o == initiator for o in chain)
                headers["origin"] = initiator if same and initiator else "null"
            step: dict[str, Any] = {"actor": "browser", "method": method, "url": redact_url(url)}
            STEPS.append(step)
            try:
                res = await self.client.request(method, url, headers=headers, content=body)
            except Exception as e:
                step["error"] = repr(e)
                raise RuntimeError(f"browser: {method} {redact_url(url)} failed: {e!r}") from e
            step["status"] = res.status_code
            self.store(url, res)
            if res.status_code in (301, 302, 303, 307, 308):
                loc = res.headers.get("location")
                if not loc:
                    raise RuntimeError(f"browser: {res.status_code} without Location at {redact_url(url)}")
                nxt = urljoin(url, loc)
                if is_captured(nxt):
                    STEPS.append({"actor": "browser", "method": "CAPTURED", "url": redact_url(nxt)})
                    return {"captured": nxt}
                if res.status_code not in (307, 308):
                    method, body = "GET", None
                chain.append(here)
                url = nxt
                continue
            ctype = res.headers.get("content-type", "")
            if res.status_code == 200 and "html" in ctype:
                return {"page": {"url": url, "html": res.text, "headers": dict(res.headers)}}
            raise RuntimeError(
                f"browser: unexpected {res.status_code} ({ctype or 'no content-type'}) at {redact_url(url)}: "
                f"{text_snippet(res.text)}"
            )
        raise RuntimeError("browser: too many redirects")


async def run_browser(browser: Browser, authorization_url: str, redirect_uri: str, args: Any, out: dict) -> str:
    target = urlsplit(redirect_uri)

    def is_captured(u: str) -> bool:
        p = urlsplit(u)
        return (p.scheme, p.netloc, p.path) == (target.scheme, target.netloc, target.path)

    as_origin = origin_of(authorization_url)
    r = await browser.navigate(authorization_url, is_captured=is_captured)
    saw_consent = False
    for _ in range(10):
        if "captured" in r:
            if not saw_consent:
                raise RuntimeError("reached the client redirect_uri without seeing dcr-bridge's consent page")
            return r["captured"]
        page = r["page"]
        url, html = page["url"], page["html"]
        forms = parse_forms(html)
        consent = next((f for f in forms if f.input("consent_id") is not None), None)
        if origin_of(url) == as_origin and consent is not None:
            saw_consent = True
            out["consent_page"] = {"url": redact_url(url), "client_name_shown": args.client_name in html}
            missing = [n for n in ("consent_id", "csrf_token") if (consent.input(n) or {}).get("type") != "hidden"]
            if missing:
                raise RuntimeError(f"consent page contract: missing hidden input(s) {', '.join(missing)}")
            if consent.attrs.get("method", "get").lower() != "post":
                raise RuntimeError("consent page contract: form method is not post")
            if not any(b.get("name") == "decision" and b.get("value") == "approve" for b in consent.buttons):
                raise RuntimeError('consent page contract: no submit button name="decision" value="approve"')
            action = urljoin(url, consent.attrs.get("action") or url)
            r = await browser.navigate(
                action,
                method="POST",
                body=consent.body({"decision": "approve"}),
                initiator=origin_of(url),
                is_captured=is_captured,
            )
            continue
        # oidc-provider devInteractions pages: login form (prompt=login), consent form (prompt=consent).
        prompt_form = next((f for f in forms if f.input("prompt") is not None), None)
        if prompt_form is not None:
            prompt = (prompt_form.input("prompt") or {}).get("value")
            extra = {"login": args.login, "password": args.password} if prompt == "login" else {}
            action = urljoin(url, prompt_form.attrs.get("action") or url)
            method = prompt_form.attrs.get("method", "get").upper()
            r = await browser.navigate(
                action,
                method=method,
                body=prompt_form.body(extra),
                initiator=origin_of(url),
                is_captured=is_captured,
            )
            continue
        where = (
            "authorization server page without the consent form" if origin_of(url) == as_origin else "foreign page"
        )
        raise RuntimeError(f"browser: don't know what to do on {redact_url(url)} ({where}): {text_snippet(html)}")
    raise RuntimeError("browser: too many pages")


# ------------------------------------------------------------------ main
def parse_args() -> Any:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--server-url", required=True)
    p.add_argument("--login", default="00u1alice")
    p.add_argument("--password", default="x")
    p.add_argument("--redirect-uri", default="http://127.0.0.1:33419/callback")
    p.add_argument("--client-name", default="python-sdk-interop")
    p.add_argument("--no-refresh", action="store_true")
    p.add_argument("--timeout", type=float, default=15.0)
    # With it, and client_id_metadata_document_supported in the AS metadata, the SDK skips DCR
    # and uses the URL as its client_id (CIMD).
    p.add_argument("--client-metadata-url")
    return p.parse_args()


def form_fields(content: bytes) -> dict[str, str]:
    try:
        return {k: v[0] for k, v in parse_qs(content.decode()).items()}
    except Exception:  # noqa: BLE001
        return {}


async def main(args: Any, out: dict[str, Any]) -> dict[str, Any]:
    import httpx2
    from mcp import ClientSession
    from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
    from pydantic import AnyUrl

    out["mcp_version"] = pkg_version("mcp")
    out["httpx2_version"] = pkg_version("httpx2")

    class MemoryStorage:
        def __init__(self) -> None:
            self.tokens: OAuthToken | None = None
            self.client_info: OAuthClientInformationFull | None = None

        async def get_tokens(self) -> OAuthToken | None:
            return self.tokens

        async def set_tokens(self, tokens: OAuthToken) -> None:
            self.tokens = tokens

        async def get_client_info(self) -> OAuthClientInformationFull | None:
            return self.client_info

        async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
            self.client_info = client_info

    storage = MemoryStorage()
    browser = Browser(httpx2, args.timeout)
    captured: dict[str, str] = {}

    async def redirect_handler(authorization_url: str) -> None:
        if "refresh_only" in out:
            raise RuntimeError("the SDK started a new authorization instead of refreshing the token")
        out["authorization_request_url"] = redact_url(authorization_url)
        captured["url"] = await run_browser(browser, authorization_url, args.redirect_uri, args, out)

    async def callback_handler() -> AuthorizationCodeResult:
        url = captured.get("url")
        if not url:
            raise RuntimeError("no authorization response captured")
        out["authorization_response_url"] = redact_url(url)
        q = dict(parse_qsl(urlsplit(url).query))
        if "error" in q:
            raise RuntimeError(f"authorization failed: error={q['error']} error_description={q.get('error_description')}")
        return AuthorizationCodeResult(code=q.get("code", ""), state=q.get("state"), iss=q.get("iss"))

    provider = OAuthClientProvider(
        server_url=args.server_url,
        client_metadata=OAuthClientMetadata(
            client_name=args.client_name,
            redirect_uris=[AnyUrl(args.redirect_uri)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
        client_metadata_url=args.client_metadata_url,
    )

    # Record what the SDK sends and receives (redacted): every request of the auth flow and the
    # transport passes through the client's event hooks.
    async def on_request(request: Any) -> None:
        step: dict[str, Any] = {"actor": "sdk", "method": request.method, "url": redact_url(str(request.url))}
        ctype = request.headers.get("content-type", "")
        if request.method == "POST" and "x-www-form-urlencoded" in ctype:
            f = form_fields(request.content)
            for k in ("grant_type", "resource", "scope"):
                if k in f:
                    step[k] = f[k]
        elif request.method == "POST" and "json" in ctype and request.url.path.endswith("/register"):
            try:
                out["registration_request"] = json.loads(request.content)
            except ValueError:
                pass
        elif request.method == "POST" and "json" in ctype:
            try:
                step["rpc"] = json.loads(request.content).get("method")
            except (ValueError, AttributeError):
                pass
        request.extensions["interop_step"] = step
        STEPS.append(step)

    async def on_response(response: Any) -> None:
        step = response.request.extensions.get("interop_step")
        if step is None:
            return
        step["status"] = response.status_code
        path = response.request.url.path
        if response.status_code == 200 and (
            "/.well-known/oauth-authorization-server" in path or "/.well-known/openid-configuration" in path
        ):
            await response.aread()
            out["authorization_server_metadata"] = response.json()
        elif response.status_code == 200 and "/.well-known/oauth-protected-resource" in path:
            await response.aread()
            out["resource_metadata"] = response.json()
        elif response.status_code == 401:
            step["www_authenticate"] = response.headers.get("www-authenticate")
        elif response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
            await response.aread()
            try:
                j = response.json()
                step["oauth_error"] = j.get("error")
                step["error_description"] = j.get("error_description")
            except ValueError:
                pass

    http_client = httpx2.AsyncClient(
        auth=provider,
        timeout=httpx2.Timeout(args.timeout),
        event_hooks={"request": [on_request], "response": [on_response]},
    )

    def dump_tokens(t: OAuthToken | None) -> Any:
        return t.model_dump(mode="json", exclude_none=True) if t is not None else None

    try:
        async with http_client:
            async with streamable_http_client(args.server_url, http_client=http_client) as (read, write):
                async with ClientSession(read, write) as session:
                    init = await session.initialize()
                    out["initialize"] = {
                        "protocol_version": init.protocol_version,
                        "server_info": init.server_info.model_dump(mode="json", exclude_none=True),
                    }
                    out["tokens"] = dump_tokens(storage.tokens)
                    ci = storage.client_info
                    out["client_info"] = ci.model_dump(mode="json", exclude_none=True) if ci else None
                    tools = await session.list_tools()
                    out["tools"] = [t.name for t in tools.tools]
                    result = await session.call_tool("whoami", {})
                    if result.is_error:
                        raise RuntimeError(f"whoami returned an error: {result.model_dump(mode='json')}")
                    out["whoami"] = "".join(getattr(c, "text", "") for c in result.content)

                    out["refreshed_tokens"] = None
                    if not args.no_refresh:
                        if storage.tokens is None or not storage.tokens.refresh_token:
                            raise RuntimeError("token response has no refresh_token, cannot test refresh")
                        # The SDK refreshes before a request once its token has expired (by the
                        # expires_in it recorded): pretend that time has come.
                        out["refresh_only"] = True
                        before = storage.tokens
                        provider.context.token_expiry_time = time.time() - 1
                        await session.send_ping()
                        if not any(s.get("grant_type") == "refresh_token" and s.get("status") == 200 for s in STEPS):
                            raise RuntimeError("the SDK did not perform a successful refresh_token grant")
                        if storage.tokens is None or storage.tokens.access_token == before.access_token:
                            raise RuntimeError("no new access token after the refresh")
                        out["refreshed_tokens"] = dump_tokens(storage.tokens)
                        # The refreshed token works on the MCP server too.
                        again = await session.call_tool("whoami", {})
                        out["whoami_after_refresh"] = "".join(getattr(c, "text", "") for c in again.content)
                        out.pop("refresh_only", None)
    finally:
        await browser.aclose()
    return out


def describe(e: BaseException) -> str:
    # anyio task groups wrap failures in ExceptionGroups: report the leaves.
    if isinstance(e, BaseExceptionGroup):
        return "; ".join(describe(x) for x in e.exceptions)
    msg = f"{type(e).__name__}: {e}"
    c = e.__cause__ or e.__context__
    for _ in range(3):
        if c is None:
            break
        if str(c) not in msg:
            msg += f" (cause: {type(c).__name__}: {c})"
        c = c.__cause__ or c.__context__
    return msg


def run() -> None:
    args = parse_args()
    # Logs (SDK warnings, `logger.exception` of the auth flow) go to stderr, never stdout.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    out: dict[str, Any] = {}
    try:
        import anyio
    except ImportError as e:
        emit(1, {"error": f"cannot import the MCP SDK's dependencies: {e}", "steps": STEPS})
    try:
        anyio.run(main, args, out)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, SystemExit):
            raise
        traceback.print_exc(file=sys.stderr)
        emit(1, {"error": describe(e), "steps": STEPS, **{k: out[k] for k in ("authorization_response_url",) if k in out}})
    emit(0, {**out, "steps": STEPS})


if __name__ == "__main__":
    run()
