#!/usr/bin/env node
// Drives the official MCP TypeScript SDK v2 client (`@modelcontextprotocol/client`) against
// dcr-bridge, headless, the way an interactive MCP client uses it:
//
//   1. `Client.connect()` over `StreamableHTTPClientTransport` with an `OAuthClientProvider`:
//      dcr-bridge's gateway in front of the MCP server answers 401, the transport hands the
//      challenge to the SDK's `auth()`, which discovers PRM + AS metadata (issuer echo check),
//      registers (DCR, or CIMD with --client-metadata-url), persists its discovery state and
//      calls `redirectToAuthorization()`. There the scripted browser (browser_leg.mjs) walks
//      consent -> upstream login -> /oauth/callback and captures the redirect to the client.
//      `connect()` then rejects with `UnauthorizedError`.
//   2. `transport.finishAuth(callbackUrl.searchParams)`: the SDK checks the callback-leg AS
//      binding (SEP-2352) and RFC 9207 `iss` (strict) and redeems the code (https-or-loopback
//      token endpoint check). `state` is compared here: the SDK leaves that to the host.
//   3. A new transport + `Client`: initialize, tools/list, tools/call whoami.
//   4. The stored access token is made stale; the next tools/call gets 401, and the transport's
//      `auth()` refreshes (refresh_token grant) and retries.
//
// Usage:
//   node sdk_v2_flow.mjs --server-url http://127.0.0.1:PORT/mcp [--login 00u1alice] [--password x]
//       [--deny]   click "deny" on dcr-bridge's consent page; expect finishAuth() to throw the
//                  callback's OAuth error (after the SDK validated its iss)
//       [--redirect-uri http://127.0.0.1:33420/callback] [--client-name sdk-v2-interop]
//       [--no-refresh] [--lenient-cookies] [--timeout-ms 15000]
//       [--client-metadata-url https://…/client.json]   use CIMD instead of DCR when the AS
//                  advertises client_id_metadata_document_supported
//
// stdout: exactly ONE JSON line.
//   success: {"sdk_version":"2.x", "client_information":…, "registration_request":…,
//             "authorization_server_metadata":…, "resource_metadata":…, "discovery_state":…,
//             "authorization_request_url":"…", "authorization_response_url":"…" (code redacted),
//             "authorization_error":null, "consent_page":{…}, "tokens":…, "server_info":…,
//             "tools":[names], "whoami":"…", "refreshed_tokens":…, "whoami_after_refresh":"…",
//             "steps":[…]}                                                                 exit 0
//   --deny:  same fields up to consent_page, "authorization_error":{"error","error_description",
//             "state","iss"}, "sdk_error":{"name","code","message"}, tokens null             exit 0
//   failure: {"error":"…", "steps":[…]}                                                    exit 1
// Steps never contain secrets: code/tokens/verifier/password/csrf values are redacted.

import { readFileSync } from 'node:fs';

import { Browser, errMessage, redactUrl, runBrowser, steps } from './browser_leg.mjs';
import {
  authorizationError, checkState, MemoryProvider, publicClientMetadata, recordDiscovery, runMain, startScript, toolText,
} from './sdk_script.mjs';

const out = {};

const {
  args, timeoutMs: TIMEOUT_MS, fetch: sdkFetch, records,
} = startScript({
  redirectUri: 'http://127.0.0.1:33420/callback',
  clientName: 'sdk-v2-interop',
  options: { 'client-metadata-url': { type: 'string' } },
});

// ---------------------------------------------------------------- in-memory OAuthClientProvider (v2)
// One credential set, so the SEP-2352 `ctx.issuer` argument is ignored (allowed by the
// interface); discovery state is kept like the code verifier, as the v2 SDK requires.
class DiscoveryMemoryProvider extends MemoryProvider {
  constructor(opts) {
    super(opts);
    this._discovery = undefined;
  }

  saveDiscoveryState(s) { this._discovery = s; }

  discoveryState() { return this._discovery; }

  invalidateCredentials(scope) {
    super.invalidateCredentials(scope);
    if (scope === 'all' || scope === 'discovery') this._discovery = undefined;
  }
}

function sdkVersion() {
  try {
    const pkg = new URL('./node_modules/@modelcontextprotocol/client/package.json', import.meta.url);
    return JSON.parse(readFileSync(pkg, 'utf8')).version;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- main
let phase = 'init';
async function main() {
  let sdk;
  try {
    sdk = await import('@modelcontextprotocol/client');
  } catch (e) {
    throw new Error(`cannot load @modelcontextprotocol/client (run npm ci in tests/interop): ${errMessage(e)}`);
  }
  const { Client, StreamableHTTPClientTransport, UnauthorizedError, OAuthError } = sdk;
  out.sdk_version = sdkVersion();

  const serverUrl = new URL(args['server-url']);
  const browser = new Browser({ lenientCookies: args['lenient-cookies'], timeoutMs: TIMEOUT_MS });
  let authorizationResponseUrl;
  let allowRedirect = true;
  const provider = new DiscoveryMemoryProvider({
    redirectUrl: args['redirect-uri'],
    // grant_types as real clients send it: with refresh_token listed (and offline_access in the
    // AS's scopes_supported) the SDK appends offline_access to the scope, and then adds
    // prompt=consent. application_type is left to the SDK's DCR default.
    clientMetadata: publicClientMetadata(args),
    // With it, and client_id_metadata_document_supported in the AS metadata, the SDK skips DCR
    // and uses the URL as its client_id (CIMD).
    clientMetadataUrl: args['client-metadata-url'],
    onRedirect: async (url) => {
      if (!allowRedirect) {
        throw new Error('the SDK started a new authorization instead of using/refreshing its tokens (see steps)');
      }
      allowRedirect = false;
      out.authorization_request_url = redactUrl(url);
      phase = 'browser';
      const leg = await runBrowser(browser, url, args['redirect-uri'], {
        login: args.login,
        password: args.password,
        deny: args.deny,
        expectError: args.deny,
        clientName: args['client-name'],
      });
      if (leg.consentPage) out.consent_page = leg.consentPage;
      authorizationResponseUrl = leg.responseUrl;
      phase = 'connect (after the browser leg)';
    },
  });
  const newTransport = () => new StreamableHTTPClientTransport(serverUrl, { authProvider: provider, fetch: sdkFetch });
  const newClient = () => new Client({ name: args['client-name'], version: '0.0.0' });

  // 1. connect -> 401 -> auth(): discovery, DCR, authorization request (browser leg inside).
  phase = 'connect (401 -> discovery/registration/authorization)';
  const transport1 = newTransport();
  const client1 = newClient();
  let connectError;
  try {
    await client1.connect(transport1);
  } catch (e) {
    connectError = e;
  }
  recordDiscovery(out, provider, records);
  out.discovery_state = provider.discoveryState() ?? null;
  if (!connectError) throw new Error('connect() succeeded without authorization');
  if (!(connectError instanceof UnauthorizedError)) throw connectError;
  if (!authorizationResponseUrl) {
    throw new Error(`connect() threw ${errMessage(connectError)} without redirecting to the authorization server`);
  }
  await client1.close().catch(() => {});

  // 2. The callback: state is the host's job; code + iss go to the SDK's finishAuth.
  phase = 'authorization response';
  const callback = new URL(authorizationResponseUrl);
  out.authorization_response_url = redactUrl(callback);
  const q = callback.searchParams;
  checkState(q, provider);
  out.authorization_error = q.has('error') ? authorizationError(q) : null;
  phase = 'finishAuth (iss validation, code exchange)';
  if (args.deny) {
    if (!q.has('error')) throw new Error('expected an error redirect but the client received an authorization code');
    try {
      await transport1.finishAuth(q);
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      out.sdk_error = { name: e.name, code: e.code, message: e.message };
      out.tokens = null;
      return out;
    }
    throw new Error('finishAuth() accepted an error callback');
  }
  await transport1.finishAuth(q);
  out.tokens = provider.tokens() ?? null;
  if (!out.tokens?.access_token) throw new Error('finishAuth() saved no access token');

  // 3. MCP session with the token.
  phase = 'MCP session (initialize, tools/list, tools/call whoami)';
  const client = newClient();
  await client.connect(newTransport());
  out.server_info = client.getServerVersion() ?? null;
  const { tools } = await client.listTools();
  out.tools = tools.map((t) => t.name);
  out.whoami = toolText(await client.callTool({ name: 'whoami', arguments: {} }));

  // 4. Refresh: a stale access token makes the next request 401; the transport runs auth(),
  //    which refreshes with the stored refresh_token and retries.
  out.refreshed_tokens = null;
  if (!args['no-refresh']) {
    phase = 'refresh (stale access token -> 401 -> auth() refresh_token grant -> retry)';
    const before = provider.tokens();
    if (!before?.refresh_token) throw new Error('token response has no refresh_token, cannot test refresh (use --no-refresh)');
    provider._tokens = { ...before, access_token: `${before.access_token}.stale` };
    const refreshStep = steps.length;
    out.whoami_after_refresh = toolText(await client.callTool({ name: 'whoami', arguments: {} }));
    if (!steps.slice(refreshStep).some((s) => s.grant_type === 'refresh_token' && s.status === 200)) {
      throw new Error('the SDK did not perform a successful refresh_token grant');
    }
    out.refreshed_tokens = provider.tokens() ?? null;
  }
  await client.close().catch(() => {});
  return out;
}

runMain(args, main, out, () => `${phase}${!records.asMetadata ? ', no authorization server metadata found' : ''}`);
