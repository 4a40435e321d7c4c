#!/usr/bin/env node
// GitHub-like upstream for dcr-bridge integration tests (UPSTREAMS §5, §8.4): the AXA
// `oauth2-mock-server` (pinned 8.2.3) with GitHub's paths and hooks that make it answer as
// GitHub does, plus GitHub's REST API under /api/v3 (the GitHub Enterprise Server layout).
// Test-only; never expose it.
//
// The mock brings the OAuth part: /login/oauth/authorize redirects at once with a code (no
// login page, like a user who already approved the app) and checks the S256 PKCE verifier at
// the token endpoint. The hooks below add what GitHub does and the mock does not: codes are
// single-use and checked, client credentials are checked (form body), errors come back with
// HTTP 200 ({"error":"bad_verification_code"}), tokens are opaque (gho_/ghu_), no id_token,
// the response `scope` is comma-separated, OAuth App tokens never expire and have no refresh
// token, GitHub App tokens expire (8 h) with a refresh token that rotates on use.
//
// Usage:
//   node github.mjs [--port 0] --callback URL --client-id ID --client-secret S
//                   [--app]                 GitHub App: expiring tokens + rotating refresh tokens
//                   [--user-json '{...}']   fields over the default user (alice, below)
//                   [--token-error CODE]    token endpoint answers 200 {"error": CODE}
//                   [--token-garbage]       token endpoint answers 200 with an HTML page
//                   [--token-delay SECS]    token endpoint answers after SECS seconds
//                   [--user-status N]       GET /user answers N
//
// Test controls (test-only, like everything here):
//   GET  /__control/stats: {"refreshes": N, "user_calls": N}: refresh_token grants that
//        reached the token endpoint (ok or not), and GET /user calls with a valid token.
//   POST /__control/org?org=ORG&state=active|pending|none: the user's membership of ORG
//        changes (`none`: removed from the organisation, and from its teams).
//   POST /__control/api?status=N: every REST API call (but /meta) answers N (502: GitHub is
//        having trouble); `status=200` serves again.
//   POST /__control/revoke: every access and refresh token issued so far stops working, as
//        when the user revokes the app in their GitHub settings (the API answers 401).
//
// Once listening, prints exactly one JSON line to stdout: {"web_base":"...","port":N}.
// Everything else (one line per request, grants) goes to stderr. Exits with its parent
// (stdin EOF), on SIGTERM or SIGINT.

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

import { exitWithParent } from './service.mjs';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    callback: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    app: { type: 'boolean', default: false },
    'user-json': { type: 'string' },
    'token-error': { type: 'string' },
    'token-garbage': { type: 'boolean', default: false },
    'token-delay': { type: 'string' },
    'user-status': { type: 'string' },
  },
  strict: true,
});
for (const k of ['callback', 'client-id', 'client-secret']) {
  if (!args[k]) throw new Error(`--${k} is required`);
}

const user = {
  id: 1001,
  login: 'alice',
  name: 'Alice Example',
  email: null,
  emails: [{ email: 'alice@example.com', primary: true, verified: true, visibility: 'private' }],
  orgs: { acme: 'active' },
  teams: ['acme/platform'],
  ...JSON.parse(args['user-json'] ?? '{}'),
};

const log = (line) => console.error(`[github] ${line}`);
const token = (prefix) => `${prefix}_${randomBytes(18).toString('base64url')}`;
// GitHub's documented lifetimes for GitHub App user tokens.
const ACCESS_TTL = 28800;
const REFRESH_TTL = 15897600;

/** code -> { scopes, challenge, used } */
const codes = new Map();
/** access token -> { scopes } */
const accessTokens = new Map();
/** refresh token -> { scopes, used } */
const refreshTokens = new Map();
const stats = { refreshes: 0, user_calls: 0 };
let apiStatus = 200;

const issuer = new OAuth2Issuer();
await issuer.keys.generate('RS256');
const service = new OAuth2Service(issuer, {
  authorize: '/login/oauth/authorize',
  token: '/login/oauth/access_token',
});

service.on('beforeAuthorizeRedirect', (redirect, req) => {
  const q = req.query;
  const code = redirect.url.searchParams.get('code');
  const refuse = (error, description) => {
    redirect.url.searchParams.delete('code');
    redirect.url.searchParams.set('error', error);
    redirect.url.searchParams.set('error_description', description);
    log(`authorize refused: ${error}`);
  };
  if (q.client_id !== args['client-id']) return refuse('unknown_client', 'no such application');
  if (q.redirect_uri !== args.callback) {
    return refuse('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
  }
  // GitHub supports PKCE with S256 only.
  if (q.code_challenge && q.code_challenge_method !== 'S256') return refuse('invalid_request', 'S256 only');
  if (q.nonce) log('authorize got a nonce (GitHub has no use for one)');
  const scopes = String(q.scope ?? '').split(/[\s,]+/).filter(Boolean);
  codes.set(code, { scopes, challenge: q.code_challenge, used: false });
  log(`authorize scope="${scopes.join(' ')}" pkce=${q.code_challenge ? 'S256' : 'none'} prompt=${q.prompt ?? ''}`);
});

/** A GitHub token answer for `scopes`, recorded so the API accepts it. */
function issue(scopes) {
  const access = token(args.app ? 'ghu' : 'gho');
  accessTokens.set(access, { scopes });
  const body = { access_token: access, token_type: 'bearer', scope: scopes.join(',') };
  if (args.app) {
    const refresh = token('ghr');
    refreshTokens.set(refresh, { scopes, used: false });
    Object.assign(body, {
      expires_in: ACCESS_TTL, refresh_token: refresh, refresh_token_expires_in: REFRESH_TTL,
    });
  }
  return body;
}

service.on('beforeResponse', (response, req) => {
  const b = req.body;
  const fail = (error, description) => {
    // GitHub's way: HTTP 200 with an error body.
    response.statusCode = 200;
    response.body = { error, error_description: description, error_uri: 'https://docs.github.com/apps/troubleshooting' };
    log(`token grant=${b.grant_type} -> ${error}`);
  };
  if (b.client_id !== args['client-id'] || b.client_secret !== args['client-secret']) {
    return fail('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
  }
  if (args['token-error']) return fail(args['token-error'], 'The code passed is incorrect or expired.');
  if (b.grant_type === 'authorization_code') {
    const grant = codes.get(b.code);
    if (!grant || grant.used) return fail('bad_verification_code', 'The code passed is incorrect or expired.');
    grant.used = true;
    if (grant.challenge && !b.code_verifier) return fail('bad_verification_code', 'code_verifier required');
    if (b.redirect_uri !== undefined && b.redirect_uri !== args.callback) {
      return fail('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
    }
    response.body = issue(grant.scopes);
    log(`token grant=authorization_code -> ok (${args.app ? 'GitHub App' : 'OAuth App'})`);
    return undefined;
  }
  if (b.grant_type === 'refresh_token') {
    stats.refreshes += 1;
    const grant = refreshTokens.get(b.refresh_token);
    if (!args.app || !grant || grant.used) return fail('bad_refresh_token', 'The refresh token passed is incorrect or expired.');
    // The old pair stops working once used.
    grant.used = true;
    response.body = issue(grant.scopes);
    log('token grant=refresh_token -> ok (rotated)');
    return undefined;
  }
  return fail('unsupported_grant_type', 'unsupported grant_type');
});

const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
};
const has = (grant, ...scopes) => scopes.some((s) => grant.scopes.includes(s));

/** GitHub's REST API, the parts dcr-bridge reads. */
function api(req, res, url) {
  const path = url.pathname.slice('/api/v3'.length);
  if (path === '/meta') return json(res, 200, { verifiable_password_authentication: false, installed_version: '3.14.0' });
  if (apiStatus !== 200) return json(res, apiStatus, { message: 'Server Error' });
  const auth = req.headers.authorization ?? '';
  const grant = accessTokens.get(auth.replace(/^(Bearer|token) /i, ''));
  if (!grant) return json(res, 401, { message: 'Bad credentials', status: '401' });
  if (path === '/user') {
    if (args['user-status']) return json(res, Number(args['user-status']), { message: 'Bad credentials' });
    stats.user_calls += 1;
    return json(res, 200, { login: user.login, id: user.id, node_id: `U_${user.id}`, type: 'User', name: user.name, email: user.email });
  }
  if (path === '/user/emails') {
    if (!has(grant, 'user:email', 'user')) return json(res, 404, { message: 'Not Found' });
    return json(res, 200, user.emails);
  }
  const membership = path.match(/^\/user\/memberships\/orgs\/([^/]+)$/);
  if (membership) {
    if (!has(grant, 'read:org', 'write:org', 'admin:org')) return json(res, 403, { message: 'You need at least read:org scope or user scope to list your organization memberships.' });
    const org = Object.keys(user.orgs).find((o) => o.toLowerCase() === decodeURIComponent(membership[1]).toLowerCase());
    if (!org) return json(res, 404, { message: 'Not Found' });
    return json(res, 200, { state: user.orgs[org], role: 'member', organization: { login: org } });
  }
  if (path === '/user/teams') {
    if (!has(grant, 'read:org', 'write:org', 'admin:org')) return json(res, 403, { message: 'Resource not accessible' });
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100);
    const page = Number(url.searchParams.get('page') ?? 1);
    const teams = user.teams.map((t) => {
      const [org, slug] = t.split('/');
      return { slug, name: slug, organization: { login: org } };
    });
    return json(res, 200, teams.slice((page - 1) * perPage, page * perPage));
  }
  return json(res, 404, { message: 'Not Found' });
}

/** The test controls (see the header). */
function control(req, res, url) {
  const q = url.searchParams;
  if (req.method === 'GET' && url.pathname === '/__control/stats') return json(res, 200, stats);
  if (req.method === 'POST' && url.pathname === '/__control/org' && q.get('org')
    && ['active', 'pending', 'none'].includes(q.get('state'))) {
    const org = q.get('org');
    if (q.get('state') === 'none') {
      delete user.orgs[org];
      user.teams = user.teams.filter((t) => t.split('/')[0].toLowerCase() !== org.toLowerCase());
    } else {
      user.orgs[org] = q.get('state');
    }
    log(`control org ${org} -> ${q.get('state')}`);
    return json(res, 200, {});
  }
  if (req.method === 'POST' && url.pathname === '/__control/api' && /^\d{3}$/.test(q.get('status') ?? '')) {
    apiStatus = Number(q.get('status'));
    log(`control api -> ${apiStatus}`);
    return json(res, 200, {});
  }
  if (req.method === 'POST' && url.pathname === '/__control/revoke') {
    accessTokens.clear();
    refreshTokens.clear();
    log('control revoked every token');
    return json(res, 200, {});
  }
  return json(res, 404, { message: 'Not Found' });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  res.on('finish', () => log(`${req.method} ${url.pathname} -> ${res.statusCode}`));
  if (url.pathname.startsWith('/__control/')) return control(req, res, url);
  if (url.pathname.startsWith('/api/v3/')) return api(req, res, url);
  if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
    // Without this header GitHub answers form-encoded (access_token=...&scope=...).
    if (!(req.headers.accept ?? '').includes('application/json')) {
      res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' });
      return res.end('error=not_json&error_description=send+Accept%3A+application%2Fjson');
    }
    if (args['token-garbage']) {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end('<html><body>Unicorn! GitHub is having a problem</body></html>');
    }
    if (args['token-delay']) {
      setTimeout(() => service.requestHandler(req, res), Number(args['token-delay']) * 1000);
      return undefined;
    }
  }
  return service.requestHandler(req, res);
});

server.listen(Number(args.port), '127.0.0.1', () => {
  const { port } = server.address();
  issuer.url = `http://127.0.0.1:${port}`;
  process.stdout.write(`${JSON.stringify({ web_base: `http://127.0.0.1:${port}`, port })}\n`);
});
exitWithParent(server, 'github');
