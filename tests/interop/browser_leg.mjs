// The scripted browser leg shared by the interop scripts (sdk_flow.mjs: MCP TS SDK v1,
// sdk_v2_flow.mjs: MCP TS SDK v2): a fetch wrapper that records what the SDK sends and receives,
// and a headless "browser" (fetch, redirect: 'manual', per-origin cookie jar) that walks
// dcr-bridge's consent page -> upstream (oidc-provider devInteractions) login + consent ->
// dcr-bridge /oauth/callback -> redirect to the client's redirect_uri (captured, never fetched).
//
// Cookie model: jar keyed by host:port (cookies are not shared between dcr-bridge and the
// upstream even though both are 127.0.0.1). SameSite is enforced treating each origin as its
// own site (as in production, where the IdP is cross-site): SameSite=Strict cookies are NOT
// sent on a navigation whose initiator or redirect chain crosses origins (e.g. the upstream ->
// /oauth/callback redirect); Lax/unspecified are sent on top-level GETs only. `lenientCookies`
// disables that. Secure/HttpOnly/Domain are ignored (http loopback).
//
// Every request lands in `steps` (one array per process), with secrets redacted.

/** Every request the SDK and the browser made, in order (code/tokens/csrf etc. redacted). */
export const steps = [];

export function errMessage(e) {
  if (!e) return 'unknown error';
  let msg = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  let c = e.cause;
  for (let i = 0; c && i < 3; i += 1, c = c.cause) {
    msg += ` (cause: ${c.code ? `${c.code} ` : ''}${c.message ?? c})`;
  }
  return msg;
}

// ---------------------------------------------------------------- redaction
export const SECRET_PARAMS = new Set([
  'code', 'code_verifier', 'access_token', 'refresh_token', 'id_token', 'client_secret',
  'password', 'csrf_token', 'token', 'assertion', 'client_assertion',
]);
export function redactUrl(u) {
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
// `fetch` for the SDK: records each request in `steps` (grant_type/resource/scope of token
// requests, OAuth error codes) and keeps the AS metadata, PRM and DCR request it saw in `records`.
export function recordingFetch({ timeoutMs }) {
  const records = { asMetadata: undefined, prm: undefined, registrationRequest: undefined };
  async function sdkFetch(input, init = {}) {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const step = { actor: 'sdk', method, url: redactUrl(url) };
    if (typeof init.body === 'string' || init.body instanceof URLSearchParams) {
      const body = String(init.body);
      if (body.startsWith('{')) {
        try {
          const j = JSON.parse(body);
          if (url.pathname.endsWith('/register') || url.href === records.asMetadata?.registration_endpoint) {
            records.registrationRequest = j;
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
      res = await fetch(input, { ...init, signal: init.signal ?? AbortSignal.timeout(timeoutMs) });
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
          records.asMetadata = j;
        } else if (res.ok && url.pathname.includes('/.well-known/oauth-protected-resource')) {
          records.prm = j;
        } else if (!res.ok && typeof j?.error === 'string') {
          step.oauth_error = j.error;
          if (typeof j.error_description === 'string') step.error_description = j.error_description;
        }
      } catch { /* not JSON after all */ }
    }
    return res;
  }
  return { fetch: sdkFetch, records };
}

// ---------------------------------------------------------------- minimal HTML form parsing
export function decodeEntities(s) {
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
export function parseAttrs(s) {
  const attrs = {};
  const re = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
  let m;
  while ((m = re.exec(s))) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}
export function parseForms(html) {
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
export function textSnippet(html, n = 300) {
  const pre = html.match(/<pre[^>]*id="error"[^>]*>([\s\S]*?)<\/pre>/i);
  const t = decodeEntities((pre ? pre[1] : html).replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n)}…` : t;
}

// ---------------------------------------------------------------- scripted browser
export class Browser {
  constructor({ lenientCookies = false, timeoutMs = 15000 } = {}) {
    this.jar = new Map(); // host:port -> Map(name\0path -> cookie)
    this.lenient = lenientCookies;
    this.timeoutMs = timeoutMs;
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
        res = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
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
// Walks the authorization request `authorizationUrl` as the user would: approves (or, with
// `deny`, denies) on dcr-bridge's consent page (checking its form contract), signs in at the
// upstream as `login`, and stops at the redirect to `redirectUrl`. With `upstreamDeny` it cancels
// at the upstream consent page. The upstream is oidc-provider's devInteractions or dcr-bridge's
// own dev IdP (`dev-idp`: sign in as `login` with `password`). Unless `expectError`, reaching `redirectUrl` without dcr-bridge's
// consent page is an error. Returns `{ responseUrl, consentPage }`: the captured authorization
// response URL, and `{url, headers, client_name_shown}` of the consent page (undefined if none).
export async function runBrowser(browser, authorizationUrl, redirectUrl, {
  login = '00u1alice', password = 'x', deny = false, upstreamDeny = false, expectError = false, clientName,
} = {}) {
  let consentPage;
  const target = new URL(redirectUrl);
  const isCaptured = (u) => u.origin === target.origin && u.pathname === target.pathname;
  const asOrigin = authorizationUrl.origin;
  let r = await browser.navigate(authorizationUrl, { isCaptured });
  let sawConsent = false;
  for (let page = 0; page < 10; page += 1) {
    if (r.captured) {
      if (!sawConsent && !expectError) throw new Error('reached the client redirect_uri without seeing dcr-bridge\'s consent page');
      return { responseUrl: r.captured, consentPage };
    }
    const { url, html, headers } = r.page;
    const forms = parseForms(html);
    const consentForm = forms.find((f) => f.inputs.some((i) => i.name === 'consent_id'));
    if (url.origin === asOrigin && consentForm) {
      // dcr-bridge consent page contract.
      sawConsent = true;
      consentPage = {
        url: redactUrl(url),
        headers: Object.fromEntries(['content-type', 'cache-control', 'content-security-policy', 'x-frame-options',
          'referrer-policy', 'x-content-type-options'].filter((h) => headers.has(h)).map((h) => [h, headers.get(h)])),
        client_name_shown: clientName !== undefined && html.includes(clientName),
      };
      const missing = ['consent_id', 'csrf_token'].filter((n) => !consentForm.inputs.some((i) => i.name === n && i.type === 'hidden'));
      if (missing.length) throw new Error(`consent page contract: missing hidden input(s) ${missing.join(', ')}`);
      if ((consentForm.attrs.method ?? 'get').toLowerCase() !== 'post') throw new Error('consent page contract: form method is not post');
      const decision = deny ? 'deny' : 'approve';
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
      if (prompt === 'consent' && upstreamDeny) {
        const abort = html.match(/<a\b[^>]*href="([^"]*\/abort)"/i);
        if (!abort) throw new Error('upstream consent page has no abort link');
        r = await browser.navigate(new URL(decodeEntities(abort[1]), url), { initiator: url.origin, isCaptured });
        continue;
      }
      const extra = prompt === 'login' ? { login, password } : {};
      const action = new URL(promptForm.attrs.action || url.href, url);
      r = await browser.navigate(action, {
        method: (promptForm.attrs.method ?? 'get').toUpperCase(), body: Browser.formBody(promptForm, extra), initiator: url.origin, isCaptured,
      });
      continue;
    }
    // dcr-bridge's own development IdP (`dcr-bridge dev` / `dev-idp`): one submit button
    // name="login" per user, and a password field when some user has one. A refused sign-in
    // answers 401, which `navigate` reports with the page's text.
    const devIdpForm = forms.find((f) => f.buttons.some((b) => b.name === 'login'));
    if (devIdpForm) {
      if (!devIdpForm.buttons.some((b) => b.name === 'login' && b.value === login)) {
        throw new Error(`dev IdP login page offers no user ${login}`);
      }
      const extra = devIdpForm.inputs.some((i) => i.name === 'password') ? { login, password } : { login };
      const action = new URL(devIdpForm.attrs.action || url.href, url);
      r = await browser.navigate(action, {
        method: 'POST', body: Browser.formBody(devIdpForm, extra), initiator: url.origin, isCaptured,
      });
      continue;
    }
    throw new Error(`browser: don't know what to do on ${redactUrl(url)} (${url.origin === asOrigin
      ? 'authorization server page without the consent form' : 'foreign page'}): ${textSnippet(html)}`);
  }
  throw new Error('browser: too many pages');
}
