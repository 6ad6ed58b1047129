//! Bearer tokens of the REST listener: RS256 JWTs checked against the keys of a JWKS URL (an
//! OpenID provider's `jwks_uri`), with their expiry.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;

/// Verifies tokens against one JWKS URL; the key set is fetched once and again for an unknown
/// key ID.
#[derive(Clone)]
pub struct Verifier {
    jwks_url: String,
    keys: Arc<Mutex<Vec<Jwk>>>,
    client: reqwest::Client,
}

#[derive(Debug, Clone, Deserialize)]
struct Jwk {
    #[serde(default)]
    kid: Option<String>,
    kty: String,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    azp: Option<String>,
}

fn b64(part: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| format!("the token is not base64url: {e}"))
}

impl Verifier {
    pub fn new(jwks_url: String) -> Verifier {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Verifier {
            jwks_url,
            keys: Arc::new(Mutex::new(Vec::new())),
            client,
        }
    }

    fn cached(&self, kid: Option<&str>) -> Option<Jwk> {
        let keys = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.iter()
            .find(|k| k.kty == "RSA" && (kid.is_none() || k.kid.as_deref() == kid))
            .cloned()
    }

    async fn key(&self, kid: Option<&str>) -> Result<Jwk, String> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let jwks: Jwks = self
            .client
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| format!("the JWKS could not be read: {e}"))?
            .json()
            .await
            .map_err(|e| format!("the JWKS is not a key set: {e}"))?;
        *self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = jwks.keys;
        self.cached(kid)
            .ok_or_else(|| "no key of the JWKS signed this token".to_string())
    }

    /// The token's client (`client_id`, `azp` or `sub`) when its signature and expiry hold.
    pub async fn verify(&self, token: &str, now_secs: i64) -> Result<String, String> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the token is not a JWT".into());
        };
        let head: Header = serde_json::from_slice(&b64(header)?)
            .map_err(|e| format!("the token's header is not JSON: {e}"))?;
        if head.alg != "RS256" {
            return Err(format!("the token's algorithm {} is not RS256", head.alg));
        }
        let key = self.key(head.kid.as_deref()).await?;
        let (Some(n), Some(e)) = (key.n.as_deref(), key.e.as_deref()) else {
            return Err("the JWKS key has no modulus or exponent".into());
        };
        let public = ring::signature::RsaPublicKeyComponents {
            n: b64(n)?,
            e: b64(e)?,
        };
        let signed = format!("{header}.{payload}");
        public
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                signed.as_bytes(),
                &b64(signature)?,
            )
            .map_err(|_| "the token's signature does not verify".to_string())?;
        let claims: Claims = serde_json::from_slice(&b64(payload)?)
            .map_err(|e| format!("the token's claims are not JSON: {e}"))?;
        match claims.exp {
            Some(exp) if exp > now_secs => {}
            _ => return Err("the token has expired".into()),
        }
        Ok(claims
            .client_id
            .or(claims.azp)
            .or(claims.sub)
            .unwrap_or_default())
    }
}
