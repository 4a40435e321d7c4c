// Verifies dcr-bridge access tokens as a resource server built on `jose` (panva, the JOSE
// library the MCP TypeScript SDK itself depends on) would: keys fetched through the jwks_uri
// with createRemoteJWKSet, then jwtVerify with issuer, audience and typ. No algorithm is
// pinned: jose accepts the algorithms the selected key allows.
//
// node verify_jwt.mjs <jwks_uri> <issuer> <audience> <token>...
// Prints one JSON line: {jose_version, thumbprints: {kid: RFC 7638 thumbprint}, results: [...]}
// with one result per token, {ok, alg, kid, sub} or {ok: false, code, message}.
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, jwtVerify, calculateJwkThumbprint } from 'jose';

const [jwksUri, issuer, audience, ...tokens] = process.argv.slice(2);
const joseVersion = JSON.parse(
  readFileSync(new URL('./node_modules/jose/package.json', import.meta.url)),
).version;
const jwks = createRemoteJWKSet(new URL(jwksUri));
const set = await (await fetch(jwksUri)).json();
const thumbprints = {};
for (const key of set.keys) {
  thumbprints[key.kid] = await calculateJwkThumbprint(key, 'sha256');
}
const results = [];
for (const token of tokens) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      typ: 'at+jwt',
    });
    results.push({ ok: true, alg: protectedHeader.alg, kid: protectedHeader.kid, sub: payload.sub });
  } catch (e) {
    results.push({ ok: false, code: e.code ?? null, message: String(e.message) });
  }
}
console.log(JSON.stringify({ jose_version: joseVersion, thumbprints, results }));
