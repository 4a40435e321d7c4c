#!/usr/bin/env node
// A small real MCP server for the interop tests, built with the official MCP TypeScript SDK
// (`@modelcontextprotocol/sdk`, pinned in package.json: `McpServer` + the Node
// `StreamableHTTPServerTransport`), which the Rust harness (tests/it/support/mcp_server.rs) puts
// behind dcr-bridge's gateway as a resource's `upstream_url`. It knows nothing about OAuth: who
// is calling comes only from the gateway's identity headers.
//
// Usage:
//   node mcp_server.mjs --stateful    sessions: `initialize` creates one (`Mcp-Session-Id`), later
//                                     requests must carry it; GET opens the SSE stream, DELETE ends it
//   node mcp_server.mjs --stateless   `sessionIdGenerator: undefined`: a fresh server and transport
//                                     per POST, no session ids; GET and DELETE answer 405
//
// Tools:
//   whoami  {}              -> text: JSON {user_id, email, name, groups, client_id, scopes, mode,
//                               session_id} read from the identity headers (IDENTITY_HEADERS below)
//   echo    {text: string}  -> text: the same text
//
// Side endpoint, not under /mcp so the gateway never forwards to it:
//   GET /_seen -> {"mode", "requests": [{method, path, rpc, session_id, protocol_version,
//                  mcp_method, credential_headers, identity, upstream_authorization}],
//                  "credential_headers": [names]}:
//                  every request that reached the server (its JSON-RPC method(s), its MCP
//                  headers, whether it carried the user id identity header), and every
//                  credential header (authorization, proxy-authorization, cookie) that came
//                  with any of them. dcr-bridge must never forward one. `upstream_authorization`
//                  is the X-Upstream-Authorization header the gateway adds when configured to.
//
// Once listening on 127.0.0.1 (a free port), prints exactly one JSON line to stdout:
//   {"url":"http://127.0.0.1:N/mcp","seen_url":"http://127.0.0.1:N/_seen","mode":"…","sdk_version":"…"}
// Everything else (one line per request, errors) goes to stderr. Exits when stdin reaches EOF
// (the parent dropped the pipe), on SIGTERM or SIGINT.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

import { exitWithParent } from './service.mjs';

// stdout is reserved for the single JSON line.
for (const m of ['log', 'info', 'debug']) console[m] = (...a) => console.error(...a);

const { values: args } = parseArgs({
  options: {
    stateful: { type: 'boolean', default: false },
    stateless: { type: 'boolean', default: false },
  },
  strict: true,
});
if (args.stateful === args.stateless) {
  console.error('mcp_server.mjs: give exactly one of --stateful, --stateless');
  process.exit(2);
}
const mode = args.stateful ? 'stateful' : 'stateless';
const sdkVersion = JSON.parse(
  readFileSync(new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url), 'utf8'),
).version;

/** The identity headers this server reads; the harness names the same ones in the resource. */
const IDENTITY_HEADERS = {
  user_id: 'x-dcr-user-id',
  email: 'x-dcr-user-email',
  name: 'x-dcr-user-name',
  groups: 'x-dcr-groups',
  client_id: 'x-dcr-client-id',
  scopes: 'x-dcr-scopes',
};
/** The header a resource's `upstream_token_header` may name (token exchange tests). */
const UPSTREAM_TOKEN_HEADER = 'x-upstream-authorization';
/** Headers that carry a credential of the client's: the gateway must strip them all. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];
/** Largest JSON-RPC body read (the gateway has its own, larger limit). */
const MAX_BODY_BYTES = 1024 * 1024;

const seen = [];

/** A new McpServer with the two tools; `sessionId()` names the session whoami reports. */
function newServer(sessionId) {
  const server = new McpServer({ name: 'dcr-bridge-interop-sdk-server', version: sdkVersion });
  server.registerTool(
    'whoami',
    { description: 'Who the gateway says is calling (its identity headers).' },
    async (extra) => {
      const headers = extra.requestInfo?.headers ?? {};
      const who = { mode, session_id: sessionId() ?? null };
      for (const [key, name] of Object.entries(IDENTITY_HEADERS)) who[key] = headers[name] ?? null;
      return { content: [{ type: 'text', text: JSON.stringify(who) }], isError: false };
    },
  );
  server.registerTool(
    'echo',
    { description: 'Answers with the text it was given.', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }], isError: false }),
  );
  return server;
}

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function rpcError(res, status, code, message) {
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null });
}

/**
 * The request body as JSON, its JSON-RPC method(s) noted in the request's record `entry`;
 * `undefined` after answering the error itself.
 */
async function readJson(req, res, entry) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > MAX_BODY_BYTES) {
      rpcError(res, 413, -32600, 'request body too large');
      return undefined;
    }
    chunks.push(c);
  }
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    entry.rpc = Array.isArray(body) ? body.map((m) => m?.method ?? null) : body?.method ?? null;
    return body;
  } catch {
    rpcError(res, 400, -32700, 'Parse error');
    return undefined;
  }
}

// ---------------------------------------------------------------- stateful: one transport per session
const sessions = new Map();

async function handleStateful(req, res, entry) {
  const sessionId = req.headers['mcp-session-id'];
  if (req.method === 'POST') {
    const body = await readJson(req, res, entry);
    if (body === undefined) return;
    let transport = sessionId ? sessions.get(sessionId) : undefined;
    if (!transport) {
      if (sessionId) return rpcError(res, 404, -32001, 'Session not found');
      if (!isInitializeRequest(body)) return rpcError(res, 400, -32000, 'Bad Request: no session id');
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => { sessions.set(id, transport); },
      });
      transport.onclose = () => { if (transport.sessionId) sessions.delete(transport.sessionId); };
      await newServer(() => transport.sessionId).connect(transport);
    }
    return transport.handleRequest(req, res, body);
  }
  if (req.method === 'GET' || req.method === 'DELETE') {
    const transport = sessionId ? sessions.get(sessionId) : undefined;
    if (!transport) return rpcError(res, sessionId ? 404 : 400, -32000, 'Bad Request: unknown or missing session id');
    return transport.handleRequest(req, res);
  }
  return rpcError(res, 405, -32000, 'Method not allowed');
}

// ---------------------------------------------------------------- stateless: one transport per request
async function handleStateless(req, res, entry) {
  if (req.method !== 'POST') {
    // No standalone SSE stream and no session to end without sessions (the SDK's own examples
    // answer the same).
    res.setHeader('allow', 'POST');
    return rpcError(res, 405, -32000, 'Method not allowed');
  }
  const body = await readJson(req, res, entry);
  if (body === undefined) return;
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  const server = newServer(() => undefined);
  res.on('close', () => {
    transport.close().catch(() => {});
    server.close().catch(() => {});
  });
  await server.connect(transport);
  return transport.handleRequest(req, res, body);
}

// ---------------------------------------------------------------- HTTP
const handle = mode === 'stateful' ? handleStateful : handleStateless;

const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  res.on('finish', () => console.error(`[mcp-server] ${req.method} ${path} -> ${res.statusCode}`));
  if (path === '/_seen' && req.method === 'GET') {
    const credentialHeaders = [...new Set(seen.flatMap((s) => s.credential_headers))];
    return sendJson(res, 200, { mode, requests: seen, credential_headers: credentialHeaders });
  }
  const entry = {
    method: req.method,
    path,
    rpc: null,
    session_id: req.headers['mcp-session-id'] ?? null,
    protocol_version: req.headers['mcp-protocol-version'] ?? null,
    mcp_method: req.headers['mcp-method'] ?? null,
    credential_headers: CREDENTIAL_HEADERS.filter((h) => req.headers[h] !== undefined),
    identity: req.headers[IDENTITY_HEADERS.user_id] !== undefined,
    upstream_authorization: req.headers[UPSTREAM_TOKEN_HEADER] ?? null,
  };
  seen.push(entry);
  if (path !== '/mcp') return sendJson(res, 404, { error: 'not_found' });
  return handle(req, res, entry).catch((e) => {
    console.error('[mcp-server] error', e);
    if (!res.headersSent) rpcError(res, 500, -32603, 'Internal error');
    else res.end();
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const base = `http://127.0.0.1:${port}`;
  process.stdout.write(`${JSON.stringify({
    url: `${base}/mcp`, seen_url: `${base}/_seen`, mode, sdk_version: sdkVersion,
  })}\n`);
});

exitWithParent(server, 'mcp-server');
