//! What one access token signature and one verification cost per algorithm, in CPU time of this
//! process (utime + stime from /proc/self/stat, far less sensitive to other load on the machine
//! than wall time). Also the cost through `jsonwebtoken::encode`, which re-parses the PKCS#8 key
//! on every call (what dcr-bridge did before issue 15), as the same-run baseline.
//!
//! ```sh
//! cargo run --release --example signing_cost            # 2 CPU-seconds per figure
//! SIGNING_COST_SECONDS=5 cargo run --release --example signing_cost
//! ```

use std::time::Duration;

use anyhow::{Context as _, Result};
use dcr_bridge::oauth::signing_alg::{generate_pkcs8, jws_header, open_pkcs8, SigningAlgorithm};
use jsonwebtoken::{EncodingKey, Header, Validation};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use serde_json::{json, Value};

/// CPU time this process has used so far (Linux: clock ticks of 1/100 s).
fn cpu_time() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("/proc/self/stat")?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').context("stat format")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the ')'.
    let ticks: u64 = fields.get(11).context("utime")?.parse::<u64>()?
        + fields.get(12).context("stime")?.parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}

/// Operations per CPU-second of `op`, run until `budget` of CPU time is spent.
fn per_cpu_second(budget: Duration, mut op: impl FnMut() -> Result<()>) -> Result<f64> {
    let start = cpu_time()?;
    let mut ops = 0u64;
    loop {
        for _ in 0..50 {
            op()?;
        }
        ops += 50;
        let spent = cpu_time()? - start;
        if spent >= budget {
            return Ok(ops as f64 / spent.as_secs_f64());
        }
    }
}

fn main() -> Result<()> {
    let seconds: u64 = std::env::var("SIGNING_COST_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let budget = Duration::from_secs(seconds);
    let claims = json!({
        "iss": "https://auth.example.com", "sub": "user_0123456789abcdef",
        "aud": "https://auth.example.com/mcp", "client_id": "dcr_0123456789abcdef0123",
        "scope": "mcp", "iat": 1_765_000_000, "nbf": 1_765_000_000, "exp": 1_765_003_600,
        "jti": "0123456789abcdef0123456789abcdef",
    });
    println!(
        "signing cost, {seconds} CPU-seconds per figure (ops per CPU-second; higher is better)"
    );
    println!(
        "{:<8} | {:>12} | {:>12} | {:>22} | {:>10}",
        "alg", "sign/cpu-s", "verify/cpu-s", "jsonwebtoken::encode/s", "sign vs RS256"
    );
    let mut rs256_sign = None;
    for alg in [
        SigningAlgorithm::Rs256,
        SigningAlgorithm::Es256,
        SigningAlgorithm::EdDsa,
    ] {
        let der = generate_pkcs8(alg)?;
        let (signer, public) = open_pkcs8(alg, &der)?;
        let kid = public.thumbprint();
        let header = jws_header(alg, "at+jwt", &kid);
        let sign = per_cpu_second(budget, || {
            signer.sign_jws(&header, &claims)?;
            Ok(())
        })?;
        let jwt = signer.sign_jws(&header, &claims)?;
        let decoding = public.decoding_key()?;
        let mut validation = Validation::new(alg.jwt_algorithm());
        validation.validate_exp = false;
        validation.validate_aud = false;
        let verify = per_cpu_second(budget, || {
            jsonwebtoken::decode::<Value>(&jwt, &decoding, &validation)?;
            Ok(())
        })?;
        // The old path: jsonwebtoken::encode with the key as bytes, parsed on every call.
        let encoding = match alg {
            SigningAlgorithm::Rs256 => {
                let private = rsa::RsaPrivateKey::from_pkcs8_der(&der)?;
                EncodingKey::from_rsa_der(private.to_pkcs1_der()?.as_bytes())
            }
            SigningAlgorithm::Es256 => EncodingKey::from_ec_der(&der),
            SigningAlgorithm::EdDsa => EncodingKey::from_ed_der(&der),
        };
        let mut jwt_header = Header::new(alg.jwt_algorithm());
        jwt_header.kid = Some(kid.clone());
        let via_encode = per_cpu_second(budget, || {
            jsonwebtoken::encode(&jwt_header, &claims, &encoding)?;
            Ok(())
        })?;
        let base = *rs256_sign.get_or_insert(sign);
        println!(
            "{:<8} | {:>12.0} | {:>12.0} | {:>22.0} | {:>9.1}x",
            alg.as_str(),
            sign,
            verify,
            via_encode,
            sign / base
        );
    }
    Ok(())
}
