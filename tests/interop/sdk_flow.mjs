#!/usr/bin/env node
// Drives the official MCP TypeScript SDK (v1) `auth()` against dcr-bridge, headless.
// A scripted "browser" (fetch, redirect: 'manual', per-origin cookie jar) stands in for the user:
// dcr-bridge consent page -> upstream (oidc-provider devInteractions) login + consent ->
// dcr-bridge /oauth/callback -> redirect to the client's redirect_uri (captured, never fetched).
//
// Usage:
//   node sdk_flow.mjs --server-url http://127.0.0.1:PORT/mcp [--login 00u1alice] [--password x]
//       [--deny]            click "deny" on dcr-bridge's consent page; expect an error redirect
//       [--upstream-deny]   cancel at the upstream consent page; expect an error redirect
//       [--expect-error]    any error redirect to the client counts as success (e.g. unknown --login)
//       [--redirect-uri http://127.0.0.1:33418/callback] [--scope "..."] [--client-name sdk-interop]
//       [--no-refresh] [--no-probe] [--lenient-cookies] [--timeout-ms 15000]
//
// stdout: exactly ONE JSON line.
//   success: {"client_information":…, "tokens":…, "refreshed_tokens":…, "authorization_response_url":"…",
//             "authorization_error":null, "authorization_server_metadata":…, "resource_metadata":…,
//             "registration_request":…, "consent_page":{…}, "mcp_probe":{…}, "steps":[…]}   exit 0
//   error-mode success (--deny/--upstream-deny/--expect-error): same shape, tokens null,
//             "authorization_error":{"error","error_description","state","iss"}            exit 0
//   failure:  {"error":"…", "steps":[…]}                                                     exit 1
// Steps never contain secrets: code/tokens/verifier/password/csrf values are redacted.
//
// Cookie model: jar keyed by host:port (cookies are not shared between dcr-bridge and the
// upstream even though both are 127.0.0.1). SameSite is enforced treating each origin as its
// own site (as in production, where the IdP is cross-site): SameSite=Strict cookies are NOT
// sent on a navigation whose initiator or redirect chain crosses origins (e.g. the upstream ->
// /oauth/callback redirect); Lax/unspecified are sent on top-level GETs only. --lenient-cookies
// disables that. Secure/HttpOnly/Domain are ignored (http loopback).

import crypto from 'node:crypto';
import { parseArgs } from 'node:util';

for (const m of ['log', 'info', 'debug']) console[m] = (...a) => console.error(...a);

const steps = [];
const out = {};
let finished = false;

function finish(code, obj) {
  if (finished) return;
  finished = true;
  const line = `${JSON.stringify(obj)}\n`;
  process.stdout.write(line, () => process.exit(code));
}

function errMessage(e) {
  if (!e) return 'unknown error';
  let msg = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  let c = e.cause;
  for (let i = 0; c && i < 3; i += 1, c = c.cause) {
    msg += ` (cause: ${c.code ? `${c.code} ` : ''}${c.message ?? c})`;
  }
  return msg;
}

process.on('unhandledRejection', (e) => finish(1, { error: `unhandled rejection: ${errMessage(e)}`, steps }));
process.on('uncaughtException', (e) => finish(1, { error: `uncaught exception: ${errMessage(e)}`, steps }));

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      'server-url': { type: 'string' },
      login: { type: 'string', default: '00u1alice' },
      password: { type: 'string', default: 'x' },
      deny: { type: 'boolean', default: false },
      'upstream-deny': { type: 'boolean', default: false },
      'expect-error': { type: 'boolean', default: false },
      'redirect-uri': { type: 'string', default: 'http://127.0.0.1:33418/callback' },
      scope: { type: 'string' },
      'client-name': { type: 'string', default: 'sdk-interop' },
      'no-refresh': { type: 'boolean', default: false },
      'no-probe': { type: 'boolean', default: false },
      'lenient-cookies': { type: 'boolean', default: false },
      'timeout-ms': { type: 'string', default: '15000' },
    },
    strict: true,
  }));
  if (!args['server-url']) throw new Error('--server-url is required');
  new URL(args['server-url']);
} catch (e) {
  finish(1, { error: `bad arguments: ${errMessage(e)}`, steps });
}

const expectError = args && (args.deny || args['upstream-deny'] || args['expect-error']);
const TIMEOUT_MS = Number(args?.['timeout-ms'] ?? 15000);

// ---------------------------------------------------------------- redaction
const SECRET_PARAMS = new Set([
  'code', 'code_verifier', 'access_token', 'refresh_token', 'id_token', 'client_secret',
  'password', 'csrf_token', 'token', 'assertion', 'client_assertion',
]);
function redactUrl(u) {
  try {
    const url = new URL(String(u));
    url.username = '';
    url.password = '';
    for (const k of [...url.searchParams.keys()]) {
      if (SECRET_PARAMS.has(k)) url.searchParams.set(k, 'REDACTED');
    }
    return url.href;
  } catch {
    return '<unparseable url>';
  }
}

// ---------------------------------------------------------------- SDK fetch wrapper
const sdkRecords = { asMetadata: undefined, prm: undefined, registrationRequest: undefined };
async function sdkFetch(input, init = {}) {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const step = { actor: 'sdk', method, url: redactUrl(url) };
  if (typeof init.body === 'string' || init.body instanceof URLSearchParams) {
    const body = String(init.body);
    if (body.startsWith('{')) {
      try {
        const j = JSON.parse(body);
        if (url.pathname.endsWith('/register') || url.href === sdkRecords.asMetadata?.registration_endpoint) {
          sdkRecords.registrationRequest = j;
        }
      } catch { /* ignore */ }
    } else {
      const p = new URLSearchParams(body);
      if (p.has('grant_type')) step.grant_type = p.get('grant_type');
      if (p.has('resource')) step.resource = p.get('resource');
      if (p.has('scope')) step.scope = p.get('scope');
    }
  }
  steps.push(step);
  let res;
  try {
    res = await fetch(input, { ...init, signal: init.signal ?? AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    step.error = errMessage(e);
    throw e;
  }
  step.status = res.status;
  const ct = res.headers.get('content-type') ?? '';
  if (ct.includes('json')) {
    try {
      const j = await res.clone().json();
      if (res.ok && /\/\.well-known\/(oauth-authorization-server|openid-configuration)/.test(url.pathname)) {
        sdkRecords.asMetadata = j;
      } else if (res.ok && url.pathname.includes('/.well-known/oauth-protected-resource')) {
        sdkRecords.prm = j;
      } else if (!res.ok && typeof j?.error === 'string') {
        step.oauth_error = j.error;
        if (typeof j.error_description === 'string') step.error_description = j.error_description;
      }
    } catch { /* not JSON after all */ }
  }
  return res;
}

// ---------------------------------------------------------------- minimal HTML form parsing
function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos|#39);/gi, (m, e) => {
    const l = e.toLowerCase();
    if (l === 'amp') return '&';
    if (l === 'lt') return '<';
    if (l === 'gt') return '>';
    if (l === 'quot') return '"';
    if (l === 'apos' || l === '#39') return "'";
    if (l.startsWith('#x')) return String.fromCodePoint(parseInt(l.slice(2), 16));
    if (l.startsWith('#')) return String.fromCodePoint(parseInt(l.slice(1), 10));
    return m;
  });
}
function parseAttrs(s) {
  const attrs = {};
  const re = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
  let m;
  while ((m = re.exec(s))) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}
function parseForms(html) {
  const forms = [];
  const formRe = /<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi;
  let fm;
  while ((fm = formRe.exec(html))) {
    const form = { attrs: parseAttrs(fm[1]), inputs: [], buttons: [] };
    const ctlRe = /<(input|button)\b([^>]*)>/gi;
    let cm;
    while ((cm = ctlRe.exec(fm[2]))) {
      const a = parseAttrs(cm[2]);
      const type = (a.type ?? (cm[1].toLowerCase() === 'button' ? 'submit' : 'text')).toLowerCase();
      if (type === 'submit' || type === 'image') form.buttons.push(a);
      else if (a.name !== undefined) form.inputs.push({ ...a, type });
    }
    forms.push(form);
  }
  return forms;
}
function textSnippet(html, n = 300) {
  const pre = html.match(/<pre[^>]*id="error"[^>]*>([\s\S]*?)<\/pre>/i);
  const t = decodeEntities((pre ? pre[1] : html).replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n)}…` : t;
}

// ---------------------------------------------------------------- scripted browser
class Browser {
  constructor({ lenientCookies }) {
    this.jar = new Map(); // host:port -> Map(name\0path -> cookie)
    this.lenient = lenientCookies;
  }

  storeCookies(url, res) {
    const host = url.host;
    const defaultPath = url.pathname.lastIndexOf('/') > 0 ? url.pathname.slice(0, url.pathname.lastIndexOf('/')) : '/';
    for (const sc of res.headers.getSetCookie()) {
      const parts = sc.split(';');
      const nv = parts.shift();
      const eq = nv.indexOf('=');
      if (eq < 0) continue;
      const c = { name: nv.slice(0, eq).trim(), value: nv.slice(eq + 1).trim(), path: defaultPath, sameSite: 'lax', expires: undefined };
      for (const p of parts) {
        const i = p.indexOf('=');
        const k = (i < 0 ? p : p.slice(0, i)).trim().toLowerCase();
        const v = i < 0 ? '' : p.slice(i + 1).trim();
        if (k === 'path' && v.startsWith('/')) c.path = v;
        else if (k === 'max-age' && /^-?\d+$/.test(v)) c.expires = Date.now() + Number(v) * 1000;
        else if (k === 'expires' && c.expires === undefined) { const d = Date.parse(v); if (!Number.isNaN(d)) c.expires = d; }
        else if (k === 'samesite') c.sameSite = v.toLowerCase();
      }
      if (!this.jar.has(host)) this.jar.set(host, new Map());
      const m = this.jar.get(host);
      const key = `${c.name}\0${c.path}`;
      if (c.expires !== undefined && c.expires <= Date.now()) m.delete(key);
      else m.set(key, c);
    }
  }

  cookieHeader(url, { crossSite, method }) {
    const m = this.jar.get(url.host);
    if (!m) return undefined;
    const now = Date.now();
    const send = [];
    for (const [key, c] of m) {
      if (c.expires !== undefined && c.expires <= now) { m.delete(key); continue; }
      const p = url.pathname;
      const pathOk = p === c.path || (p.startsWith(c.path) && (c.path.endsWith('/') || p[c.path.length] === '/'));
      if (!pathOk) continue;
      if (crossSite && !this.lenient) {
        if (c.sameSite === 'strict') continue;
        if (c.sameSite !== 'none' && method !== 'GET') continue;
      }
      send.push(c);
    }
    send.sort((a, b) => b.path.length - a.path.length);
    return send.length ? send.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  // Top-level navigation, following redirects by hand. Returns {captured} when a redirect
  // targets the client's redirect_uri, else {page} for a 200 HTML response.
  async navigate(startUrl, { method = 'GET', body, initiator, isCaptured }) {
    let url = new URL(startUrl);
    const chain = [];
    for (let hop = 0; hop < 25; hop += 1) {
      const origins = [initiator, ...chain].filter(Boolean);
      const crossSiteForCookies = origins.some((o) => o !== url.origin);
      const hosts = origins.map((o) => new URL(o).hostname);
      const secFetchSite = origins.length === 0 ? 'none'
        : origins.every((o) => o === url.origin) ? 'same-origin'
          : hosts.every((h) => h === url.hostname) ? 'same-site' : 'cross-site';
      const headers = {
        accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
        'user-agent': 'Mozilla/5.0 (dcr-bridge interop harness)',
        'sec-fetch-mode': 'navigate',
        'sec-fetch-dest': 'document',
        'sec-fetch-site': secFetchSite,
        'sec-fetch-user': '?1',
        'upgrade-insecure-requests': '1',
      };
      const cookie = this.cookieHeader(url, { crossSite: crossSiteForCookies, method });
      if (cookie) headers.cookie = cookie;
      if (method !== 'GET' && method !== 'HEAD') {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        headers.origin = (chain.length === 0 || chain.every((o) => o === initiator)) && initiator ? initiator : 'null';
      }
      const step = { actor: 'browser', method, url: redactUrl(url) };
      steps.push(step);
      let res;
      try {
        res = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
      } catch (e) {
        step.error = errMessage(e);
        throw new Error(`browser: ${method} ${redactUrl(url)} failed: ${errMessage(e)}`);
      }
      step.status = res.status;
      this.storeCookies(url, res);
      if ([301, 302, 303, 307, 308].includes(res.status)) {
        await res.body?.cancel();
        const loc = res.headers.get('location');
        if (!loc) throw new Error(`browser: ${res.status} without Location at ${redactUrl(url)}`);
        const next = new URL(loc, url);
        if (isCaptured(next)) {
          steps.push({ actor: 'browser', method: 'CAPTURED', url: redactUrl(next) });
          return { captured: next.href };
        }
        if (!(res.status === 307 || res.status === 308)) { method = 'GET'; body = undefined; }
        chain.push(url.origin);
        url = next;
        continue;
      }
      const html = await res.text();
      if (res.status === 200 && (res.headers.get('content-type') ?? '').includes('html')) {
        return { page: { url, html, status: res.status, headers: res.headers } };
      }
      throw new Error(`browser: unexpected ${res.status} (${res.headers.get('content-type') ?? 'no content-type'}) at ${redactUrl(url)}: ${textSnippet(html)}`);
    }
    throw new Error('browser: too many redirects');
  }

  static formBody(form, extra) {
    const p = new URLSearchParams();
    for (const i of form.inputs) {
      if (i.type === 'checkbox' || i.type === 'radio') { if (!('checked' in i)) continue; }
      p.append(i.name, i.value ?? '');
    }
    for (const [k, v] of Object.entries(extra)) p.set(k, v);
    return p.toString();
  }
}

// ---------------------------------------------------------------- the user's part of the flow
async function runBrowser(browser, authorizationUrl, redirectUrl) {
  const target = new URL(redirectUrl);
  const isCaptured = (u) => u.origin === target.origin && u.pathname === target.pathname;
  const asOrigin = authorizationUrl.origin;
  let r = await browser.navigate(authorizationUrl, { isCaptured });
  let sawConsent = false;
  for (let page = 0; page < 10; page += 1) {
    if (r.captured) {
      if (!sawConsent && !expectError) throw new Error('reached the client redirect_uri without seeing dcr-bridge\'s consent page');
      return r.captured;
    }
    const { url, html, headers } = r.page;
    const forms = parseForms(html);
    const consentForm = forms.find((f) => f.inputs.some((i) => i.name === 'consent_id'));
    if (url.origin === asOrigin && consentForm) {
      // dcr-bridge consent page contract.
      sawConsent = true;
      out.consent_page = {
        url: redactUrl(url),
        headers: Object.fromEntries(['content-type', 'cache-control', 'content-security-policy', 'x-frame-options',
          'referrer-policy', 'x-content-type-options'].filter((h) => headers.has(h)).map((h) => [h, headers.get(h)])),
        client_name_shown: html.includes(args['client-name']),
      };
      const missing = ['consent_id', 'csrf_token'].filter((n) => !consentForm.inputs.some((i) => i.name === n && i.type === 'hidden'));
      if (missing.length) throw new Error(`consent page contract: missing hidden input(s) ${missing.join(', ')}`);
      if ((consentForm.attrs.method ?? 'get').toLowerCase() !== 'post') throw new Error('consent page contract: form method is not post');
      const decision = args.deny ? 'deny' : 'approve';
      for (const d of ['approve', 'deny']) {
        if (!consentForm.buttons.some((b) => b.name === 'decision' && b.value === d)) {
          throw new Error(`consent page contract: no submit button name="decision" value="${d}"`);
        }
      }
      const action = new URL(consentForm.attrs.action || url.href, url);
      r = await browser.navigate(action, {
        method: 'POST', body: Browser.formBody(consentForm, { decision }), initiator: url.origin, isCaptured,
      });
      continue;
    }
    // oidc-provider devInteractions pages (login form, consent form).
    const promptForm = forms.find((f) => f.inputs.some((i) => i.name === 'prompt'));
    if (promptForm) {
      const prompt = promptForm.inputs.find((i) => i.name === 'prompt').value;
      if (prompt === 'consent' && args['upstream-deny']) {
        const abort = html.match(/<a\b[^>]*href="([^"]*\/abort)"/i);
        if (!abort) throw new Error('upstream consent page has no abort link');
        r = await browser.navigate(new URL(decodeEntities(abort[1]), url), { initiator: url.origin, isCaptured });
        continue;
      }
      const extra = prompt === 'login' ? { login: args.login, password: args.password } : {};
      const action = new URL(promptForm.attrs.action || url.href, url);
      r = await browser.navigate(action, {
        method: (promptForm.attrs.method ?? 'get').toUpperCase(), body: Browser.formBody(promptForm, extra), initiator: url.origin, isCaptured,
      });
      continue;
    }
    throw new Error(`browser: don't know what to do on ${redactUrl(url)} (${url.origin === asOrigin
      ? 'authorization server page without the consent form' : 'foreign page'}): ${textSnippet(html)}`);
  }
  throw new Error('browser: too many pages');
}

// ---------------------------------------------------------------- in-memory OAuthClientProvider
class MemoryProvider {
  constructor({ redirectUrl, clientMetadata, onRedirect }) {
    this._redirectUrl = redirectUrl;
    this._clientMetadata = clientMetadata;
    this._onRedirect = onRedirect;
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this.lastState = undefined;
  }

  get redirectUrl() { return this._redirectUrl; }

  get clientMetadata() { return this._clientMetadata; }

  state() {
    this.lastState = crypto.randomBytes(16).toString('base64url');
    return this.lastState;
  }

  clientInformation() { return this._client; }

  saveClientInformation(ci) { this._client = ci; }

  tokens() { return this._tokens; }

  saveTokens(t) { this._tokens = t; }

  async redirectToAuthorization(url) { await this._onRedirect(url); }

  saveCodeVerifier(v) { this._verifier = v; }

  codeVerifier() {
    if (!this._verifier) throw new Error('no code verifier saved');
    return this._verifier;
  }

  invalidateCredentials(scope) {
    steps.push({ actor: 'sdk', method: 'INVALIDATE', url: `credentials:${scope}` });
    if (scope === 'all' || scope === 'client') this._client = undefined;
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this._verifier = undefined;
  }
}

// ---------------------------------------------------------------- MCP probe (what the transport does)
async function probeMcp(serverUrl, accessToken) {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-06-18',
  };
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  const step = { actor: 'sdk', method: 'POST', url: redactUrl(serverUrl), probe: accessToken ? 'authenticated' : 'unauthenticated' };
  steps.push(step);
  try {
    const res = await fetch(serverUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0', id: 1, method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'sdk-interop', version: '0.0.0' } },
      }),
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    step.status = res.status;
    await res.body?.cancel();
    return { status: res.status, www_authenticate: res.headers.get('www-authenticate'), res };
  } catch (e) {
    step.error = errMessage(e);
    return { status: null, error: errMessage(e) };
  }
}

// ---------------------------------------------------------------- main
let phase = 'init';
async function main() {
  let sdkAuth;
  let extractWWWAuthenticateParams;
  try {
    ({ auth: sdkAuth, extractWWWAuthenticateParams } = await import('@modelcontextprotocol/sdk/client/auth.js'));
  } catch (e) {
    throw new Error(`cannot load @modelcontextprotocol/sdk (run npm ci in tests/interop): ${errMessage(e)}`);
  }
  const serverUrl = new URL(args['server-url']);
  const browser = new Browser({ lenientCookies: args['lenient-cookies'] });
  let authorizationResponseUrl;
  let authorizationRequestUrl;
  let allowRedirect = true;

  const clientMetadata = {
    client_name: args['client-name'],
    redirect_uris: [args['redirect-uri']],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...(args.scope ? { scope: args.scope } : {}),
  };
  const provider = new MemoryProvider({
    redirectUrl: args['redirect-uri'],
    clientMetadata,
    onRedirect: async (url) => {
      if (!allowRedirect) {
        throw new Error('auth() started a new authorization instead of refreshing the tokens (see steps for the failed refresh)');
      }
      authorizationRequestUrl = redactUrl(url);
      phase = 'browser';
      authorizationResponseUrl = await runBrowser(browser, url, args['redirect-uri']);
    },
  });

  // 1. What StreamableHTTPClientTransport does first: an unauthenticated request, then on 401
  //    it hands resource_metadata + scope from WWW-Authenticate to auth().
  const authOpts = { serverUrl, fetchFn: sdkFetch };
  phase = 'probe';
  if (!args['no-probe']) {
    const p = await probeMcp(serverUrl);
    out.mcp_probe = { unauthenticated_status: p.status, www_authenticate: p.www_authenticate ?? null };
    if (p.status === 401 && p.res) {
      const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(p.res);
      if (resourceMetadataUrl) authOpts.resourceMetadataUrl = resourceMetadataUrl;
      if (scope) authOpts.scope = scope;
    }
  }

  // 2. Discovery, DCR, authorization request (browser leg runs inside redirectToAuthorization).
  phase = 'discovery/registration/authorization';
  const r1 = await sdkAuth(provider, authOpts);
  phase = 'authorization response';
  out.client_information = provider.clientInformation() ?? null;
  out.authorization_server_metadata = sdkRecords.asMetadata ?? null;
  out.resource_metadata = sdkRecords.prm ?? null;
  out.registration_request = sdkRecords.registrationRequest ?? null;
  out.authorization_request_url = authorizationRequestUrl ?? null;
  if (r1 !== 'REDIRECT') throw new Error(`first auth() returned ${r1}, expected REDIRECT`);
  if (!authorizationResponseUrl) throw new Error('no authorization response captured');
  out.authorization_response_url = authorizationResponseUrl;

  // 3. Inspect the authorization response like a careful client (the v1 SDK itself checks neither
  //    state nor iss; v2 and the Python SDK check iss per RFC 9207).
  const resp = new URL(authorizationResponseUrl);
  const q = resp.searchParams;
  if (q.get('state') !== provider.lastState) {
    throw new Error(`state mismatch in authorization response (got ${q.has('state') ? 'a different value' : 'none'})`);
  }
  const asIssuer = sdkRecords.asMetadata?.issuer;
  if (q.has('iss')) {
    if (asIssuer && q.get('iss') !== asIssuer) throw new Error(`iss mismatch: response iss=${q.get('iss')} metadata issuer=${asIssuer}`);
  } else if (sdkRecords.asMetadata?.authorization_response_iss_parameter_supported === true) {
    throw new Error('authorization response lacks iss although metadata advertises authorization_response_iss_parameter_supported');
  }
  if (q.has('error')) {
    out.authorization_error = {
      error: q.get('error'), error_description: q.get('error_description'), state: q.get('state'), iss: q.get('iss'),
    };
    if (!expectError) throw new Error(`authorization failed: error=${q.get('error')} error_description=${q.get('error_description') ?? ''}`);
    out.tokens = null;
    out.refreshed_tokens = null;
    return out;
  }
  if (expectError) throw new Error('expected an error redirect but the client received an authorization code');
  const code = q.get('code');
  if (!code) throw new Error('authorization response has neither code nor error');
  out.authorization_error = null;

  // 4. Code exchange, exactly as the SDK's finishAuth() does it.
  allowRedirect = false;
  phase = 'code exchange';
  const r2 = await sdkAuth(provider, { ...authOpts, authorizationCode: code });
  if (r2 !== 'AUTHORIZED') throw new Error(`code exchange auth() returned ${r2}`);
  out.tokens = provider.tokens() ?? null;

  // 5. Refresh: auth() with a stored refresh_token and no code runs grant_type=refresh_token first.
  out.refreshed_tokens = null;
  if (!args['no-refresh']) {
    phase = 'refresh';
    if (!out.tokens?.refresh_token) throw new Error('token response has no refresh_token, cannot test refresh (use --no-refresh)');
    const r3 = await sdkAuth(provider, authOpts);
    if (r3 !== 'AUTHORIZED') throw new Error(`refresh auth() returned ${r3}`);
    const refreshed = provider.tokens();
    if (!steps.some((s) => s.grant_type === 'refresh_token' && s.status === 200)) {
      throw new Error('auth() did not perform a successful refresh_token grant');
    }
    out.refreshed_tokens = refreshed ?? null;
  }

  // 6. Authenticated MCP request (informational; dcr-bridge may not serve /mcp itself).
  phase = 'authenticated probe';
  if (!args['no-probe']) {
    const tok = (out.refreshed_tokens ?? out.tokens)?.access_token;
    const p = await probeMcp(serverUrl, tok);
    out.mcp_probe.authenticated_status = p.status;
  }
  return out;
}

if (args && !finished) {
  main().then(
    (o) => finish(0, { ...o, steps }),
    (e) => finish(1, {
      error: `[${phase}${phase.startsWith('discovery') && !sdkRecords.asMetadata ? ', no authorization server metadata found' : ''}] ${errMessage(e)}`,
      ...(out.authorization_error ? { authorization_error: out.authorization_error } : {}),
      ...(out.authorization_response_url ? { authorization_response_url: out.authorization_response_url } : {}),
      steps,
    }),
  );
}
