//! JWT header and claims parsing and verification, as every protected resource, introspection
//! and revocation run it: against an RS256 and an ES256 registered key. Nothing the fuzzer
//! makes can be signed by them, so nothing may ever verify.
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use wxauth::keys::jwks::Jwk;
use wxauth::keys::verify::verify_signed_by;

fn jwk(spki_b64: &str) -> Jwk {
    let der = base64::engine::general_purpose::STANDARD.decode(spki_b64).expect("base64");
    Jwk::from_spki_der(&der).expect("a key")
}

static KEYS: LazyLock<[Jwk; 2]> = LazyLock::new(|| {
    [
        jwk("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0/LWhF7mOT2+UHByRMQPn5edrANKdtchY1g3s9L7whJeooXaypAre0OU2KINOOpmavIatrq2x4bHnIMi2S3iYD6Xa1l86U7dyEvvzh6Hdfei1p9gkBx17+fKSeGqCEpBxvLumsdeGzfM9Zko2rS6jZ3GuGHmhpjZTYz5bNoVsDD4y2RRxRp2UpyoVMDT+ZZohXOd+plKBct8CBqiq06Pnebmj1b8qtx7FuBzoNM+QaPlmQuZ7TKdR3BgBsx4tntUF7GAE3EEkJofW0YjjAeM8SQBsMwrRQbPzh6qJAPrBGzXqY4vqbpn2Bn77/MAJqmTtlllPWTR4WgWPs/+AHHSJQIDAQAB"),
        jwk("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBABjvZupAeA4We0BTCmnBP/zMI2ZZKnlKC8ROwEYwtWKO/5SOZf32eCKOlna4cVPvRMC8IJtFnFfkVsjg4WWwQ=="),
    ]
});

libfuzzer_sys::fuzz_target!(|token: &str| {
    let Ok(header) = jsonwebtoken::decode_header(token) else { return };
    for key in KEYS.iter() {
        let verified = verify_signed_by(key, &header, token, "https://auth.example", None).expect("no backend error");
        assert!(verified.is_err(), "a forged token verified");
    }
});
