#!/usr/bin/env node
// Serves one client ID metadata document over HTTPS on 127.0.0.1, for the CIMD interop test
// (the MCP SDKs accept only an https `clientMetadataUrl`; dcr-bridge fetches it under
// `[cimd] allow_loopback_for_tests`, which skips certificate checks for loopback hosts only).
//
// Usage: node cimd_doc_server.mjs --cert c.pem --key k.pem --doc doc.json
// stdout: one JSON line {"port": N} once listening. Every GET answers the document with
// `content-type: application/json`; `{{URL}}` in the document is replaced by its own URL
// (https://127.0.0.1:N/client.json). Exits when stdin closes.

import { readFileSync } from 'node:fs';
import https from 'node:https';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { cert: { type: 'string' }, key: { type: 'string' }, doc: { type: 'string' } },
  strict: true,
});
const template = readFileSync(args.doc, 'utf8');
let body = '';
const server = https.createServer(
  { cert: readFileSync(args.cert), key: readFileSync(args.key) },
  (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
    res.end(body);
  },
);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  body = template.replaceAll('{{URL}}', `https://127.0.0.1:${port}/client.json`);
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
