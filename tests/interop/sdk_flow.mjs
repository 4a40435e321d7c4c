#!/usr/bin/env node
// Drives the official MCP TypeScript SDK (v1) `auth()` against dcr-bridge, headless, then talks
// MCP (initialize, tools/list, tools/call whoami) through its StreamableHTTPClientTransport with
// the tokens, refreshes them with auth() and calls whoami again on the same session.
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
//       [--client-metadata-url https://…/client.json]   use CIMD instead of DCR when the AS
//                           advertises client_id_metadata_document_supported
//
// stdout: exactly ONE JSON line.
//   success: {"client_information":…, "tokens":…, "refreshed_tokens":…, "authorization_response_url":"…",
//             "authorization_error":null, "authorization_server_metadata":…, "resource_metadata":…,
//             "registration_request":…, "consent_page":{…}, "server_info":…, "tools":[names],
//             "whoami":"…", "whoami_after_refresh":"…", "mcp_probe":{…}, "steps":[…]}    exit 0
//   error-mode success (--deny/--upstream-deny/--expect-error): same shape, tokens null,
//             "authorization_error":{"error","error_description","state","iss"}            exit 0
//   failure:  {"error":"…", "steps":[…]}                                                     exit 1
// Steps never contain secrets: code/tokens/verifier/password/csrf values are redacted.
//
// The browser leg (and its cookie model) lives in browser_leg.mjs, the output protocol, common
// options and OAuthClientProvider in sdk_script.mjs; both are shared with sdk_v2_flow.mjs.

import { Browser, errMessage, redactUrl, runBrowser, steps } from './browser_leg.mjs';
import {
  authorizationError, checkState, MemoryProvider, publicClientMetadata, recordDiscovery, runMain, startScript, toolText,
} from './sdk_script.mjs';

const out = {};

const {
  args, timeoutMs: TIMEOUT_MS, fetch: sdkFetch, records: sdkRecords,
} = startScript({
  redirectUri: 'http://127.0.0.1:33418/callback',
  clientName: 'sdk-interop',
  options: {
    'upstream-deny': { type: 'boolean', default: false },
    'expect-error': { type: 'boolean', default: false },
    scope: { type: 'string' },
    'no-probe': { type: 'boolean', default: false },
    'client-metadata-url': { type: 'string' },
  },
});

const expectError = args && (args.deny || args['upstream-deny'] || args['expect-error']);

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
  let Client;
  let StreamableHTTPClientTransport;
  try {
    ({ auth: sdkAuth, extractWWWAuthenticateParams } = await import('@modelcontextprotocol/sdk/client/auth.js'));
    ({ Client } = await import('@modelcontextprotocol/sdk/client/index.js'));
    ({ StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js'));
  } catch (e) {
    throw new Error(`cannot load @modelcontextprotocol/sdk (run npm ci in tests/interop): ${errMessage(e)}`);
  }
  const serverUrl = new URL(args['server-url']);
  const browser = new Browser({ lenientCookies: args['lenient-cookies'], timeoutMs: TIMEOUT_MS });
  let authorizationResponseUrl;
  let authorizationRequestUrl;
  let allowRedirect = true;

  const clientMetadata = {
    ...publicClientMetadata(args),
    ...(args.scope ? { scope: args.scope } : {}),
  };
  const provider = new MemoryProvider({
    redirectUrl: args['redirect-uri'],
    clientMetadata,
    clientMetadataUrl: args['client-metadata-url'],
    onRedirect: async (url) => {
      if (!allowRedirect) {
        throw new Error('auth() started a new authorization instead of refreshing the tokens (see steps for the failed refresh)');
      }
      authorizationRequestUrl = redactUrl(url);
      phase = 'browser';
      const leg = await runBrowser(browser, url, args['redirect-uri'], {
        login: args.login,
        password: args.password,
        deny: args.deny,
        upstreamDeny: args['upstream-deny'],
        expectError,
        clientName: args['client-name'],
      });
      if (leg.consentPage) out.consent_page = leg.consentPage;
      authorizationResponseUrl = leg.responseUrl;
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
  recordDiscovery(out, provider, sdkRecords);
  out.authorization_request_url = authorizationRequestUrl ?? null;
  if (r1 !== 'REDIRECT') throw new Error(`first auth() returned ${r1}, expected REDIRECT`);
  if (!authorizationResponseUrl) throw new Error('no authorization response captured');
  out.authorization_response_url = authorizationResponseUrl;

  // 3. Inspect the authorization response like a careful client (the v1 SDK itself checks neither
  //    state nor iss; v2 and the Python SDK check iss per RFC 9207).
  const resp = new URL(authorizationResponseUrl);
  const q = resp.searchParams;
  checkState(q, provider);
  const asIssuer = sdkRecords.asMetadata?.issuer;
  if (q.has('iss')) {
    if (asIssuer && q.get('iss') !== asIssuer) throw new Error(`iss mismatch: response iss=${q.get('iss')} metadata issuer=${asIssuer}`);
  } else if (sdkRecords.asMetadata?.authorization_response_iss_parameter_supported === true) {
    throw new Error('authorization response lacks iss although metadata advertises authorization_response_iss_parameter_supported');
  }
  if (q.has('error')) {
    out.authorization_error = authorizationError(q);
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

  // 5. MCP session with that token, through the SDK's own transport (which reads the provider's
  //    tokens for every request): initialize, tools/list, tools/call whoami.
  phase = 'MCP session (initialize, tools/list, tools/call whoami)';
  const client = new Client({ name: args['client-name'], version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider, fetch: sdkFetch }));
  out.server_info = client.getServerVersion() ?? null;
  out.tools = (await client.listTools()).tools.map((t) => t.name);
  out.whoami = toolText(await client.callTool({ name: 'whoami', arguments: {} }));

  // 6. Refresh: auth() with a stored refresh_token and no code runs grant_type=refresh_token first.
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
    // The same session goes on with the refreshed access token.
    phase = 'MCP session after the refresh (tools/call whoami)';
    out.whoami_after_refresh = toolText(await client.callTool({ name: 'whoami', arguments: {} }));
  }
  await client.close().catch(() => {});

  // 7. A raw authenticated initialize (what a client without the SDK's transport would send).
  phase = 'authenticated probe';
  if (!args['no-probe']) {
    const tok = (out.refreshed_tokens ?? out.tokens)?.access_token;
    const p = await probeMcp(serverUrl, tok);
    out.mcp_probe.authenticated_status = p.status;
  }
  return out;
}

runMain(args, main, out, () => `${phase}${phase.startsWith('discovery') && !sdkRecords.asMetadata ? ', no authorization server metadata found' : ''}`);
