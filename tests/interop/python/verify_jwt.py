"""Verifies dcr-bridge access tokens as a Python resource server on PyJWT would (the JWT
library the MCP Python SDK depends on, pyjwt[crypto]): the key picked by kid through
PyJWKClient from the jwks_uri, then jwt.decode with the algorithm list, issuer and audience.

python verify_jwt.py <jwks_uri> <issuer> <audience> <alg> <token>...
Prints one JSON line: {pyjwt_version, results: [{ok, alg, kid, sub} | {ok: false, error}]}.
"""

import json
import sys

import jwt


def main() -> None:
    jwks_uri, issuer, audience, alg, *tokens = sys.argv[1:]
    client = jwt.PyJWKClient(jwks_uri, cache_keys=False)
    results = []
    for token in tokens:
        try:
            key = client.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, key, algorithms=[alg], issuer=issuer, audience=audience
            )
            header = jwt.get_unverified_header(token)
            results.append(
                {"ok": True, "alg": header["alg"], "kid": header["kid"], "sub": claims["sub"]}
            )
        except Exception as e:  # noqa: BLE001 - every refusal is a result
            results.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
    print(json.dumps({"pyjwt_version": jwt.__version__, "results": results}))


if __name__ == "__main__":
    main()
