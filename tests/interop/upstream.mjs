#!/usr/bin/env node
// Okta-like upstream OpenID Provider for dcr-bridge integration tests, built on
// the certified `oidc-provider` (panva). Test-only; never expose it.
//
// Usage:
//   node upstream.mjs [--port 0] [--callback URL ...] [--client-id ID] [--client-secret S]
//                     [--issuer-path /oauth2/default] [--access-token-ttl SECS]
//                     [--offline-access-without-prompt] [--users-json '{"00u9x":{...}}']
//                     [--entra-tenant GUID] [--google] [--client-jwks '{"keys":[...]}']
//                     [--overage-user ID] [--hostile W]
// Env fallbacks: UPSTREAM_PORT, UPSTREAM_CALLBACK, UPSTREAM_CLIENT_ID, UPSTREAM_CLIENT_SECRET,
//                UPSTREAM_ISSUER_PATH, UPSTREAM_ACCESS_TOKEN_TTL, UPSTREAM_USERS_JSON.
//
// Redirect URI checking:
//   * With --callback (repeatable): exact-match, like Okta. The intended pattern is that the
//     Rust test binds dcr-bridge's TcpListener first, so the callback URL is known before
//     this process starts.
//   * Without --callback: the client is registered as application_type "native" with
//     http://127.0.0.1/oauth/callback and http://localhost/oauth/callback, so oidc-provider's
//     RFC 8252 §7.3 loopback rule accepts ANY port on those hosts (path must be /oauth/callback).
//
// Look-alike modes (UPSTREAMS §2, §3), each behind its own flag; without them nothing changes:
//   * --entra-tenant GUID: Entra ID v2.0 of that tenant. Issuer /{GUID}/v2.0; ID tokens carry
//     `tid` (openid) and `oid` (profile, a GUID per user), no `email_verified`;
//     `/organizations/v2.0` and `/common/v2.0` serve the multi-tenant discovery document, whose
//     issuer is the template `/{tenantid}/v2.0`. /auth refuses like Entra: `resource`
//     (AADSTS901002) and `offline_access` without another scope (AADSTS70011) come back to the
//     callback as errors; an unknown --login is AADSTS50105 (not assigned). Refresh tokens for offline_access without prompt=consent, as Entra.
//   * --google: Google. Issuer at the root; `offline_access` as a scope is refused with a 400
//     page ("Error 400: invalid_scope", no redirect, as Google does); a refresh token comes only
//     for access_type=offline with prompt=consent (logged as "[upstream] google offline grant");
//     refresh tokens do not rotate; ID tokens carry `hd` (the email's domain, or the user's own
//     `hd`; `"hd": null` in --users-json leaves it out, as for a consumer gmail.com account).
//     An `hd` authorization parameter (a hint only) is logged as "[upstream] google hd hint X".
//
// Client authentication:
//   * --client-jwks JSON: our client authenticates with private_key_jwt (RFC 7523) signed by a
//     key of this JWK set, and has no secret. Each assertion's header is logged as
//     "[upstream] client_assertion x5t=… x5t#S256=…"; in Entra mode an assertion naming no
//     certificate (no x5t, x5t#S256 or kid) is refused as Entra does (AADSTS700027).
//
// Entra groups overage (with --entra-tenant):
//   * --overage-user ID: that user's ID token carries no `groups` but
//     `_claim_names: {"groups": "src1"}` (Entra's overage above 200 groups), and the
//     Microsoft Graph look-alike at /graph/v1.0 answers `POST /me/getMemberGroups` with the
//     user's groups for a valid upstream access token (logged "[upstream] graph ...").
//
// Test controls (outside the issuer path; test-only, like everything here):
//   * GET  /__control/stats: {"refreshes": N, "replays": N, "refresh_scopes": [...]}: how many
//     refresh_token grants reached /token, how many presented a refresh token already presented
//     before (a rotating upstream would see a replay), and the `scope` each sent ("" for none).
//   * POST /__control/disable?user=ID: the user is disabled: findAccount no longer finds them,
//     so their next refresh gets `invalid_grant`, as Okta/Entra/Google answer for a disabled user.
//   * POST /__control/groups?user=ID&groups=a,b: the user's groups become a, b (empty: none),
//     as when an administrator changes group membership; later ID tokens (refresh) show it.
//   * POST /__control/outage?mode=down|503|up: `down` resets every connection to the issuer
//     (the upstream is unreachable), `503` answers 503, `up` serves again (state kept).
//   * POST /__control/hostile?what=W[&secs=N]: the upstream misbehaves from now on (`off`
//     ends it). W is one of:
//       token-html       the token endpoint answers 200 with an HTML page (a proxy's)
//       token-garbage    the token endpoint answers 200 with truncated JSON
//       token-slow       the token endpoint answers after N seconds
//       wrong-issuer     the discovery document names another issuer
//       foreign-jwks     the JWKS publishes a key that is not the one ID tokens are signed with
//       down-after-code  once it has sent the browser back with a code, it goes away (`down`)
//     Each hostile answer is logged "[upstream] hostile W". `--hostile W` starts in mode W
//     (so that not even dcr-bridge's startup check sees a well-behaved upstream).
//   In Entra mode a refresh without `scope` is refused (AADSTS900144) and one mixing
//   `offline_access` with a `.default` scope too (AADSTS70011), both logged "entra refused".
//
// Once listening, prints exactly one JSON line to stdout: {"issuer":"...","port":N}.
// Everything else (oidc-provider notices/warnings, request log) goes to stderr.
// Exits when stdin reaches EOF (parent died / dropped the pipe), on SIGTERM or SIGINT.
// NOTE: when running by hand keep stdin open (a terminal is fine; `</dev/null` exits at once).

import http from 'node:http';
import { parseArgs } from 'node:util';

import { exitWithParent } from './service.mjs';

// oidc-provider writes NOTICEs with console.info (stdout). stdout is reserved for the
// single JSON line, so route every console channel to stderr BEFORE importing it.
for (const m of ['log', 'info', 'debug']) console[m] = (...a) => console.error(...a);

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    callback: { type: 'string', multiple: true },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'issuer-path': { type: 'string' },
    'access-token-ttl': { type: 'string' },
    'offline-access-without-prompt': { type: 'boolean', default: false },
    'users-json': { type: 'string' },
    'entra-tenant': { type: 'string' },
    google: { type: 'boolean', default: false },
    'client-jwks': { type: 'string' },
    'overage-user': { type: 'string' },
    hostile: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
  strict: true,
});

const env = process.env;
const port = Number(args.port ?? env.UPSTREAM_PORT ?? 0);
const callbacks = args.callback ?? (env.UPSTREAM_CALLBACK ? env.UPSTREAM_CALLBACK.split(/[\s,]+/).filter(Boolean) : []);
const clientId = args['client-id'] ?? env.UPSTREAM_CLIENT_ID ?? 'dcr-bridge';
const clientSecret = args['client-secret'] ?? env.UPSTREAM_CLIENT_SECRET ?? 'dcr-bridge-upstream-secret';
const entraTenant = args['entra-tenant'];
const google = args.google;
let issuerPath = args['issuer-path'] ?? env.UPSTREAM_ISSUER_PATH
  ?? (entraTenant ? `/${entraTenant}/v2.0` : google ? '' : '/oauth2/default');
if (issuerPath === '/') issuerPath = '';
if (issuerPath && !issuerPath.startsWith('/')) issuerPath = `/${issuerPath}`;
issuerPath = issuerPath.replace(/\/+$/, '');
const accessTokenTtl = Number(args['access-token-ttl'] ?? env.UPSTREAM_ACCESS_TOKEN_TTL ?? 3600);
const offlineWithoutPrompt = args['offline-access-without-prompt'] || env.UPSTREAM_OFFLINE_ACCESS_WITHOUT_PROMPT === '1'
  || Boolean(entraTenant);
const quiet = args.quiet || env.UPSTREAM_QUIET === '1';

// Okta-style user ids ("00u…"); sub == accountId.
const users = {
  '00u1alice': {
    email: 'alice@example.com', email_verified: true, name: 'Alice Example',
    preferred_username: 'alice@example.com', groups: ['engineering'],
  },
  '00u2bob': {
    email: 'bob@example.com', email_verified: true, name: 'Bob Example',
    preferred_username: 'bob@example.com', groups: ['sales'],
  },
  '00u3carol': {
    email: 'carol@example.com', email_verified: false, name: 'Carol Unverified',
    preferred_username: 'carol@example.com', groups: ['engineering'],
  },
  ...JSON.parse(args['users-json'] ?? env.UPSTREAM_USERS_JSON ?? '{}'),
};

// Entra: `tid` and a GUID `oid` per user, no `email_verified` (Entra never sends it).
// Google: `hd` for the Workspace domain.
let userNo = 0;
for (const u of Object.values(users)) {
  userNo += 1;
  if (entraTenant) {
    u.tid ??= entraTenant;
    u.oid ??= `00000000-0000-4000-8000-${String(userNo).padStart(12, '0')}`;
    delete u.email_verified;
  }
  // `"hd": null` in --users-json: a consumer account (gmail.com), which has no hd claim.
  if (google && u.hd === null) delete u.hd;
  else if (google) u.hd ??= (u.email ?? '').split('@')[1];
}

const { default: Provider } = await import('oidc-provider');
const { createHash, generateKeyPairSync } = await import('node:crypto');

// Test controls (see the header).
const disabled = new Set();
const stats = { refreshes: 0, replays: 0, refresh_scopes: [] };
const seenRefreshTokens = new Set();
let outage = 'up';
const HOSTILE = ['off', 'token-html', 'token-garbage', 'token-slow', 'wrong-issuer', 'foreign-jwks', 'down-after-code'];
if (args.hostile && !HOSTILE.includes(args.hostile)) throw new Error(`--hostile: one of ${HOSTILE.join(', ')}`);
let hostile = { what: args.hostile ?? 'off', secs: 0 };

let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handler(req, res));
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const actualPort = server.address().port;
const issuer = `http://127.0.0.1:${actualPort}${issuerPath}`;

const clientJwks = args['client-jwks'] ? JSON.parse(args['client-jwks']) : undefined;
const overageUser = args['overage-user'];
const client = {
  client_id: clientId,
  ...(clientJwks
    ? { jwks: clientJwks, token_endpoint_auth_method: 'private_key_jwt' }
    : { client_secret: clientSecret, token_endpoint_auth_method: 'client_secret_basic' }),
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  ...(callbacks.length
    ? { redirect_uris: callbacks }
    : {
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/oauth/callback', 'http://localhost/oauth/callback'],
    }),
};

const provider = new Provider(issuer, {
  clients: [client],
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  claims: {
    openid: entraTenant ? ['sub', 'tid'] : ['sub'],
    email: entraTenant ? ['email'] : google ? ['email', 'email_verified', 'hd'] : ['email', 'email_verified'],
    profile: entraTenant ? ['name', 'preferred_username', 'oid'] : ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // Default true puts scope-derived claims only in userinfo for response_type=code.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => {
    const u = users[id];
    if (!u || disabled.has(id)) return undefined;
    if (id === overageUser) {
      // Entra's overage: no groups in the token, a pointer to where they are instead.
      const { groups: _left, ...rest } = u;
      return {
        accountId: id,
        claims: async () => ({
          sub: id, ...rest,
          _claim_names: { groups: 'src1' },
          _claim_sources: { src1: { endpoint: `http://127.0.0.1:${actualPort}/graph/v1.0/users/${u.oid}/getMemberObjects` } },
        }),
      };
    }
    return { accountId: id, claims: async () => ({ sub: id, ...u }) };
  },
  rotateRefreshToken: !google,
  pkce: { required: () => true },
  clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'],
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    // Okta has no RFC 8707 on /authorize for this use; with it enabled (the 9.x default)
    // a forwarded `resource` param would be rejected with invalid_target.
    resourceIndicators: { enabled: false },
  },
  ttl: {
    AccessToken: accessTokenTtl,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 14 * 24 * 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
  },
  cookies: { keys: ['interop-test-cookie-key-not-secret'] },
  clientBasedCORS: () => true,
  renderError: async (ctx, out, _error) => {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><title>oops</title><pre id="error">${JSON.stringify(out)
      .replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre>`;
  },
});

const cb = provider.callback();
handler = (req, res) => {
  if (!quiet) {
    res.on('finish', () => {
      const u = req.url.split('?')[0];
      console.error(`[upstream] ${req.method} ${u} -> ${res.statusCode}`);
    });
  }
  const url = req.url;
  if (url.startsWith('/__control/')) return control(req, res);
  if (url.startsWith('/graph/')) {
    return graph(req, res).catch((e) => {
      console.error('[upstream] graph error', e);
      if (!res.headersSent) { res.statusCode = 500; res.end(); }
    });
  }
  if (outage === 'down') { req.socket.destroy(); return undefined; }
  if (hostile.what !== 'off' && !req.headers['x-upstream-internal'] && misbehave(req, res)) return undefined;
  if (outage === '503') { res.statusCode = 503; res.end('unavailable'); return undefined; }
  if (entraTenant && req.method === 'GET' && /^\/(common|organizations)\/v2\.0\/\.well-known\/openid-configuration(\?|$)/.test(url)) {
    return multiTenantDiscovery(res).catch((e) => {
      console.error('[upstream] discovery error', e);
      if (!res.headersSent) { res.statusCode = 500; res.end(); }
    });
  }
  if (url === issuerPath || url.startsWith(`${issuerPath}/`) || url.startsWith(`${issuerPath}?`)) {
    req.url = url.slice(issuerPath.length) || '/';
    if (entraTenant && req.method === 'GET' && entraRefuses(req, res)) return undefined;
    if (google && req.method === 'GET' && googleRefuses(req, res)) return undefined;
    if (offlineWithoutPrompt && req.method === 'GET') addConsentPromptForOffline(req);
    // oidc-provider derives its mount path as originalUrl minus req.url, so keep them consistent.
    req.originalUrl = issuerPath + req.url;
    if (req.method === 'POST' && /^\/token(\?|$)/.test(req.url)) {
      return countRefresh(req, res).catch((e) => {
        console.error('[upstream] token error', e);
        if (!res.headersSent) { res.statusCode = 500; res.end(); }
      });
    }
    if (req.method === 'POST' && /^\/interaction\/[^/?]+(\?|$)/.test(req.url)) {
      return rejectUnknownLogin(req, res).catch((e) => {
        console.error('[upstream] interaction error', e);
        if (!res.headersSent) { res.statusCode = 500; res.end(); }
      });
    }
    return cb(req, res);
  }
  res.statusCode = 404;
  res.setHeader('content-type', 'application/json');
  res.end('{"error":"not_found"}');
};

function control(req, res) {
  const u = new URL(req.url, 'http://x');
  res.setHeader('content-type', 'application/json');
  if (req.method === 'GET' && u.pathname === '/__control/stats') {
    return res.end(JSON.stringify(stats));
  }
  if (req.method === 'POST' && u.pathname === '/__control/disable' && u.searchParams.get('user')) {
    disabled.add(u.searchParams.get('user'));
    console.error(`[upstream] disabled ${u.searchParams.get('user')}`);
    return res.end('{}');
  }
  if (req.method === 'POST' && u.pathname === '/__control/groups' && users[u.searchParams.get('user')]) {
    const id = u.searchParams.get('user');
    users[id].groups = (u.searchParams.get('groups') ?? '').split(',').filter(Boolean);
    console.error(`[upstream] groups of ${id}: ${users[id].groups.join(',')}`);
    return res.end('{}');
  }
  if (req.method === 'POST' && u.pathname === '/__control/hostile' && HOSTILE.includes(u.searchParams.get('what'))) {
    hostile = { what: u.searchParams.get('what'), secs: Number(u.searchParams.get('secs') ?? 0) };
    console.error(`[upstream] hostile mode ${hostile.what}`);
    return res.end('{}');
  }
  if (req.method === 'POST' && u.pathname === '/__control/outage'
    && ['down', '503', 'up'].includes(u.searchParams.get('mode'))) {
    outage = u.searchParams.get('mode');
    console.error(`[upstream] outage ${outage}`);
    return res.end('{}');
  }
  res.statusCode = 404;
  return res.end('{"error":"not_found"}');
}

// The hostile modes (see the header). Returns true when it answered (or will answer) itself.
function misbehave(req, res) {
  const path = req.url.split('?')[0];
  const said = () => console.error(`[upstream] hostile ${hostile.what}`);
  if (req.method === 'POST' && path === `${issuerPath}/token`) {
    if (hostile.what === 'token-html') {
      said();
      res.setHeader('content-type', 'text/html');
      res.end('<!DOCTYPE html><html><body><h1>Sign in to the corporate proxy</h1></body></html>');
      return true;
    }
    if (hostile.what === 'token-garbage') {
      said();
      res.setHeader('content-type', 'application/json');
      res.end('{"access_token": "at-123", "token_type": "Bearer", "id_tok');
      return true;
    }
    if (hostile.what === 'token-slow') {
      said();
      // Keep the request: it goes on to oidc-provider when the delay is over.
      req.pause();
      setTimeout(() => { req.resume(); hostileDelayed(req, res); }, hostile.secs * 1000);
      return true;
    }
  }
  if (req.method === 'GET' && path === `${issuerPath}/.well-known/openid-configuration` && hostile.what === 'wrong-issuer') {
    said();
    return answerFromSelf(req, res, (doc) => ({ ...doc, issuer: `http://127.0.0.1:${actualPort}/other-tenant` }));
  }
  if (req.method === 'GET' && path === `${issuerPath}/jwks` && hostile.what === 'foreign-jwks') {
    said();
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'foreign', use: 'sig', alg: 'RS256' }] }));
    return true;
  }
  if (hostile.what === 'down-after-code') {
    res.on('finish', () => {
      const location = String(res.getHeader('location') ?? '');
      if (/[?&]code=/.test(location) && !location.startsWith(issuer)) {
        said();
        outage = 'down';
        console.error('[upstream] outage down');
      }
    });
  }
  return false;
}

// The token request after the delay, with the hostile check skipped.
function hostileDelayed(req, res) {
  req.headers['x-upstream-internal'] = '1';
  handler(req, res);
}

// One of our own documents, rewritten by `edit`.
function answerFromSelf(req, res, edit) {
  fetch(`http://127.0.0.1:${actualPort}${req.url}`, { headers: { 'x-upstream-internal': '1' } })
    .then((r) => r.json())
    .then((doc) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(edit(doc)));
    })
    .catch((e) => {
      console.error('[upstream] hostile error', e);
      if (!res.headersSent) { res.statusCode = 500; res.end(); }
    });
  return true;
}

// Counts refresh_token grants at /token (and replays of a refresh token seen before); in Entra
// mode refuses the refresh scopes Entra refuses. Then hands the request to oidc-provider.
async function countRefresh(req, res) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks).toString('utf8');
  const body = new URLSearchParams(raw);
  const assertion = body.get('client_assertion');
  if (assertion) {
    let header = {};
    try {
      header = JSON.parse(Buffer.from(assertion.split('.')[0], 'base64url').toString('utf8'));
    } catch { /* oidc-provider refuses it below */ }
    console.error(`[upstream] client_assertion x5t=${header.x5t ?? ''} x5t#S256=${header['x5t#S256'] ?? ''} grant=${body.get('grant_type')}`);
    if (entraTenant && !header.x5t && !header['x5t#S256'] && !header.kid) {
      console.error('[upstream] entra refused: AADSTS700027');
      res.statusCode = 401;
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ error: 'invalid_client', error_description: 'AADSTS700027: Client assertion failed signature validation.' }));
    }
  }
  if (body.get('grant_type') === 'refresh_token') {
    stats.refreshes += 1;
    const hash = createHash('sha256').update(body.get('refresh_token') ?? '').digest('hex');
    if (seenRefreshTokens.has(hash)) {
      stats.replays += 1;
      console.error('[upstream] refresh token replayed');
    }
    seenRefreshTokens.add(hash);
    const scope = body.get('scope') ?? '';
    stats.refresh_scopes.push(scope);
    if (entraTenant) {
      const scopes = scope.split(' ').filter(Boolean);
      const refuse = (error, description) => {
        console.error(`[upstream] entra refused: ${description.split(':')[0]}`);
        res.statusCode = 400;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ error, error_description: description }));
      };
      if (!scopes.length) {
        return refuse('invalid_request', "AADSTS900144: The request body must contain the following parameter: 'scope'.");
      }
      if (scopes.includes('offline_access') && scopes.some((s) => s.endsWith('.default'))) {
        return refuse('invalid_scope', "AADSTS70011: The provided value for the input parameter 'scope' is not valid.");
      }
    }
  }
  req.body = raw; // already consumed: oidc-provider falls back to req.body
  return cb(req, res);
}

// Microsoft Graph look-alike: POST /graph/v1.0/me/getMemberGroups with an access token this
// provider issued answers {"value": [the user's groups]}; any other token is 401, as Graph
// answers (InvalidAuthenticationToken).
async function graph(req, res) {
  const u = new URL(req.url, 'http://x');
  res.setHeader('content-type', 'application/json');
  if (req.method !== 'POST' || u.pathname !== '/graph/v1.0/me/getMemberGroups') {
    res.statusCode = 404;
    return res.end('{"error":{"code":"Request_ResourceNotFound"}}');
  }
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  const token = (req.headers.authorization ?? '').replace(/^Bearer /i, '');
  const at = token ? await provider.AccessToken.find(token) : undefined;
  if (!at || typeof body.securityEnabledOnly !== 'boolean') {
    console.error(`[upstream] graph refused (${at ? 'body' : 'token'})`);
    res.statusCode = at ? 400 : 401;
    return res.end(JSON.stringify({ error: { code: at ? 'Request_BadRequest' : 'InvalidAuthenticationToken', message: 'refused' } }));
  }
  const groups = users[at.accountId]?.groups ?? [];
  console.error(`[upstream] graph getMemberGroups ${at.accountId} -> ${groups.length}`);
  return res.end(JSON.stringify({ '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)', value: groups }));
}

// devInteractions accepts any login; an unknown accountId would later make findAccount fail
// with server_error. Instead, finish the interaction with access_denied (the RP gets
// ?error=access_denied&error_description=unknown+user at its callback).
async function rejectUnknownLogin(req, res) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks).toString('utf8');
  const body = new URLSearchParams(raw);
  if (body.get('prompt') === 'login' && !Object.hasOwn(users, body.get('login') ?? '')) {
    // Entra's answer for a user the application is not assigned to.
    const description = entraTenant
      ? 'AADSTS50105: The signed in user is not assigned to a role for the application.'
      : 'unknown user';
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: description,
    }, { mergeWithLastSubmission: false });
  }
  req.body = raw; // already consumed: oidc-provider falls back to req.body
  return cb(req, res);
}

// Entra's multi-tenant discovery: the tenant's document with the issuer template, and without
// RFC 9207 (Entra does not advertise it).
async function multiTenantDiscovery(res) {
  const doc = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  doc.issuer = `http://127.0.0.1:${actualPort}/{tenantid}/v2.0`;
  delete doc.authorization_response_iss_parameter_supported;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(doc));
}

// Sends the browser back to the client's redirect_uri with an OAuth error, as Entra does for
// the request errors below.
function refuseToCallback(res, u, error, description) {
  const back = new URL(u.searchParams.get('redirect_uri'));
  back.searchParams.set('error', error);
  back.searchParams.set('error_description', description);
  const state = u.searchParams.get('state');
  if (state) back.searchParams.set('state', state);
  console.error(`[upstream] entra refused: ${description.split(':')[0]}`);
  res.statusCode = 302;
  res.setHeader('location', back.href);
  res.end();
}

// Entra v2.0 refusals at /authorize. Returns true when it answered.
function entraRefuses(req, res) {
  const u = new URL(req.url, 'http://x');
  if (u.pathname !== '/auth' || !u.searchParams.get('redirect_uri')) return false;
  if (u.searchParams.has('resource')) {
    refuseToCallback(res, u, 'invalid_target', "AADSTS901002: The 'resource' request parameter is not supported.");
    return true;
  }
  const scope = (u.searchParams.get('scope') ?? '').split(' ').filter(Boolean);
  if (scope.includes('offline_access') && scope.every((s) => s === 'offline_access')) {
    refuseToCallback(res, u, 'invalid_scope', "AADSTS70011: The provided value for the input parameter 'scope' is not valid.");
    return true;
  }
  return false;
}

// Google at /authorize: `offline_access` is no Google scope (an error page, no redirect);
// `access_type=offline` with `prompt=consent` is what yields a refresh token, emulated by
// granting oidc-provider's offline_access. Returns true when it answered.
function googleRefuses(req, res) {
  const u = new URL(req.url, 'http://x');
  if (u.pathname !== '/auth') return false;
  const scope = (u.searchParams.get('scope') ?? '').split(' ').filter(Boolean);
  if (scope.includes('offline_access')) {
    console.error('[upstream] google refused: invalid_scope offline_access');
    res.statusCode = 400;
    res.setHeader('content-type', 'text/html');
    res.end('<!DOCTYPE html><title>Error 400: invalid_scope</title><h1>Error 400: invalid_scope</h1>');
    return true;
  }
  if (u.searchParams.has('hd')) console.error(`[upstream] google hd hint ${u.searchParams.get('hd')}`);
  const prompt = (u.searchParams.get('prompt') ?? '').split(' ');
  if (u.searchParams.get('access_type') === 'offline' && prompt.includes('consent')) {
    console.error('[upstream] google offline grant');
    u.searchParams.set('scope', [...scope, 'offline_access'].join(' '));
    req.url = u.pathname + u.search;
  }
  return false;
}

// Okta issues refresh tokens for `offline_access` without `prompt=consent`; oidc-provider
// (per OIDC Core §11) silently drops offline_access unless prompt=consent. Opt-in shim.
function addConsentPromptForOffline(req) {
  const u = new URL(req.url, 'http://x');
  if (u.pathname !== '/auth') return;
  const scope = (u.searchParams.get('scope') ?? '').split(' ');
  const prompt = (u.searchParams.get('prompt') ?? '').split(' ').filter(Boolean);
  if (scope.includes('offline_access') && !prompt.includes('consent')) {
    u.searchParams.set('prompt', [...prompt, 'consent'].join(' '));
    req.url = u.pathname + u.search;
  }
}

process.stdout.write(`${JSON.stringify({ issuer, port: actualPort })}\n`);

exitWithParent(server, 'upstream');
