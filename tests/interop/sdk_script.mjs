// What the MCP TypeScript SDK interop scripts (sdk_flow.mjs: v1, sdk_v2_flow.mjs: v2) share
// besides the browser leg (browser_leg.mjs): the one-JSON-line stdout protocol, the common
// command-line options, the in-memory OAuthClientProvider, and reading the authorization
// response.

import crypto from 'node:crypto';
import { parseArgs } from 'node:util';

import { errMessage, recordingFetch, steps } from './browser_leg.mjs';

// stdout carries exactly ONE JSON line: everything the SDKs log goes to stderr.
for (const m of ['log', 'info', 'debug']) console[m] = (...a) => console.error(...a);

/** `true` once the JSON line is written (the process is about to exit). */
export let finished = false;

/** Writes `obj` as the JSON line, then exits with `code`. Only the first call counts. */
export function finish(code, obj) {
  if (finished) return;
  finished = true;
  const line = `${JSON.stringify(obj)}\n`;
  process.stdout.write(line, () => process.exit(code));
}

process.on('unhandledRejection', (e) => finish(1, { error: `unhandled rejection: ${errMessage(e)}`, steps }));
process.on('uncaughtException', (e) => finish(1, { error: `uncaught exception: ${errMessage(e)}`, steps }));

/**
 * Reads the command line and sets up the SDK's fetch. Returns `{args, timeoutMs, fetch, records}`:
 * `args` as parsed (see parseScriptArgs; undefined when bad), `--timeout-ms` as a number, and
 * `recordingFetch`'s fetch for the SDK and its records.
 */
export function startScript(argOptions) {
  const args = parseScriptArgs(argOptions);
  const timeoutMs = Number(args?.['timeout-ms'] ?? 15000);
  return { args, timeoutMs, ...recordingFetch({ timeoutMs }) };
}

/**
 * The command line: `--server-url` (required), `--login`, `--password`, `--deny`,
 * `--redirect-uri` (default `redirectUri`), `--client-name` (default `clientName`),
 * `--no-refresh`, `--lenient-cookies`, `--timeout-ms`, plus the script's own `options`.
 * Bad arguments finish the script (exit 1) and return undefined.
 */
export function parseScriptArgs({ redirectUri, clientName, options = {} }) {
  try {
    const { values } = parseArgs({
      options: {
        'server-url': { type: 'string' },
        login: { type: 'string', default: '00u1alice' },
        password: { type: 'string', default: 'x' },
        deny: { type: 'boolean', default: false },
        'redirect-uri': { type: 'string', default: redirectUri },
        'client-name': { type: 'string', default: clientName },
        'no-refresh': { type: 'boolean', default: false },
        'lenient-cookies': { type: 'boolean', default: false },
        'timeout-ms': { type: 'string', default: '15000' },
        ...options,
      },
      strict: true,
    });
    if (!values['server-url']) throw new Error('--server-url is required');
    new URL(values['server-url']);
    return values;
  } catch (e) {
    finish(1, { error: `bad arguments: ${errMessage(e)}`, steps });
    return undefined;
  }
}

/**
 * Runs `main` (unless the arguments were bad) and finishes with its result and the steps, or
 * with `{error: "[<failureContext()>] <message>", steps}` (plus the authorization error and
 * response URL in `out`, if any) when it throws.
 */
export function runMain(args, main, out, failureContext) {
  if (!args || finished) return;
  main().then(
    (o) => finish(0, { ...o, steps }),
    (e) => finish(1, {
      error: `[${failureContext()}] ${errMessage(e)}`,
      ...(out.authorization_error ? { authorization_error: out.authorization_error } : {}),
      ...(out.authorization_response_url ? { authorization_response_url: out.authorization_response_url } : {}),
      steps,
    }),
  );
}

/** The DCR metadata of a public native client for the script's `--client-name` and `--redirect-uri`. */
export function publicClientMetadata(args) {
  return {
    client_name: args['client-name'],
    redirect_uris: [args['redirect-uri']],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
}

// ---------------------------------------------------------------- in-memory OAuthClientProvider
export class MemoryProvider {
  constructor({ redirectUrl, clientMetadata, clientMetadataUrl, onRedirect }) {
    this._redirectUrl = redirectUrl;
    // Read by the SDK: with it, and an AS that advertises CIMD, the URL is the client_id.
    this.clientMetadataUrl = clientMetadataUrl;
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

/** Puts what the SDK registered and discovered (seen by `recordingFetch`) into `out`. */
export function recordDiscovery(out, provider, records) {
  out.client_information = provider.clientInformation() ?? null;
  out.authorization_server_metadata = records.asMetadata ?? null;
  out.resource_metadata = records.prm ?? null;
  out.registration_request = records.registrationRequest ?? null;
}

/** Throws unless the authorization response parameters `q` carry the provider's `state`. */
export function checkState(q, provider) {
  if (q.get('state') !== provider.lastState) {
    throw new Error(`state mismatch in authorization response (got ${q.has('state') ? 'a different value' : 'none'})`);
  }
}

/** The text parts of an MCP tool result, joined with newlines. */
export function toolText(result) {
  return (result?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

/** `{error, error_description, state, iss}` of an error authorization response. */
export function authorizationError(q) {
  return {
    error: q.get('error'), error_description: q.get('error_description'), state: q.get('state'), iss: q.get('iss'),
  };
}
