//! The tokens of queued ingestion, signed with the server's secret (HMAC-SHA256):
//!
//! * **SAS** query strings on the container and queue URLs of `.get ingestion resources`,
//!   in the shape of Azure Storage's service SAS (`sv`, `se`, `sp`, `sr`, `sig`: the storage
//!   SDKs keep only known SAS names and need at least one). The signature covers the
//!   resource (`container/<name>` or `queue/<name>`), the permissions and the expiry, so a
//!   token is good for one container or queue, for what it permits, until it expires.
//! * The **authorization context** of `.get kusto identity token`, which the SDKs copy into
//!   every ingestion message: who asked, signed, so that the worker ingests on behalf of that
//!   caller (and checks Ingestor on the message's table then).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{EngineError, Result};

type HmacSha256 = Hmac<Sha256>;

/// The SAS version written (the storage SDKs do not check it).
pub(crate) const SAS_VERSION: &str = "2022-11-02";

/// What a storage request does with its resource: the SAS permission letter it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// `r`: read a blob, peek messages.
    Read,
    /// `w`: write a blob or a block.
    Write,
    /// `d`: delete a blob.
    Delete,
    /// `a`: add a message.
    Add,
    /// `p`: get (dequeue) and delete messages.
    Process,
}

impl Permission {
    fn letter(self) -> char {
        match self {
            Permission::Read => 'r',
            Permission::Write => 'w',
            Permission::Delete => 'd',
            Permission::Add => 'a',
            Permission::Process => 'p',
        }
    }
}

/// The SAS parameters of a request's query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sas {
    /// `se`: the expiry (RFC 3339).
    pub expiry: Option<String>,
    /// `sp`: the permission letters.
    pub permissions: Option<String>,
    /// `sig`: the signature (standard base64).
    pub signature: Option<String>,
}

impl Sas {
    /// The SAS parameters of a query string (`a=b&c=d`, percent-encoded); others are
    /// ignored.
    pub fn from_query(query: &str) -> Sas {
        let mut sas = Sas::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "se" => sas.expiry = Some(v.into_owned()),
                "sp" => sas.permissions = Some(v.into_owned()),
                "sig" => sas.signature = Some(v.into_owned()),
                _ => {}
            }
        }
        sas
    }
}

/// Signs and checks tokens with one secret.
#[derive(Clone)]
pub(crate) struct Signer {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer")
    }
}

fn forbidden(why: &str) -> EngineError {
    EngineError::Forbidden(format!("Server failed to authenticate the request: {why}"))
}

impl Signer {
    pub(crate) fn new(secret: Vec<u8>) -> Signer {
        Signer { secret }
    }

    fn mac(&self, parts: &[&str]) -> HmacSha256 {
        // HMAC takes a key of any length.
        let mut mac = match HmacSha256::new_from_slice(&self.secret) {
            Ok(m) => m,
            Err(_) => unreachable_mac(),
        };
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(b"\n");
            }
            mac.update(p.as_bytes());
        }
        mac
    }

    /// The SAS query string for `resource` (`container/tempstorage`) with `permissions`
    /// until `expiry`.
    pub(crate) fn sas(
        &self,
        resource: &str,
        kind: char,
        permissions: &str,
        expiry: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let se = expiry.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let sig = STANDARD.encode(
            self.mac(&[resource, permissions, &se])
                .finalize()
                .into_bytes(),
        );
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("sv", SAS_VERSION)
            .append_pair("se", &se)
            .append_pair("sp", permissions)
            .append_pair("sr", &kind.to_string())
            .append_pair("sig", &sig)
            .finish()
    }

    /// Whether `sas` lets a request do `need` on `resource` at `now`: a signature of this
    /// server for that resource, the permission among those signed, not expired. The error
    /// is a 403 (`AuthenticationFailed` or `AuthorizationPermissionMismatch`).
    pub(crate) fn check(
        &self,
        resource: &str,
        sas: &Sas,
        need: Permission,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let (Some(se), Some(sp), Some(sig)) = (&sas.expiry, &sas.permissions, &sas.signature)
        else {
            return Err(forbidden("the request has no signature (se, sp, sig)"));
        };
        let given = STANDARD
            .decode(sig.as_bytes())
            .map_err(|_| forbidden("the signature is not base64"))?;
        self.mac(&[resource, sp, se])
            .verify_slice(&given)
            .map_err(|_| forbidden("the signature does not match"))?;
        let expiry = chrono::DateTime::parse_from_rfc3339(se)
            .map_err(|_| forbidden("the expiry is not a date"))?;
        if expiry < now {
            return Err(forbidden("the signature has expired"));
        }
        if !sp.contains(need.letter()) {
            return Err(EngineError::Forbidden(format!(
                "This request is not authorized to perform this operation using this permission ('{}' is not in '{sp}')",
                need.letter()
            )));
        }
        Ok(())
    }

    /// A signed token holding `payload` (JSON): `<base64url payload>.<base64url mac>`.
    pub(crate) fn token(&self, payload: &serde_json::Value) -> String {
        let body = URL_SAFE_NO_PAD.encode(payload.to_string());
        let sig = URL_SAFE_NO_PAD.encode(self.mac(&["token", &body]).finalize().into_bytes());
        format!("{body}.{sig}")
    }

    /// The payload of a token this signer made, `None` for any other text.
    pub(crate) fn open_token(&self, token: &str) -> Option<serde_json::Value> {
        let (body, sig) = token.trim().split_once('.')?;
        let given = URL_SAFE_NO_PAD.decode(sig).ok()?;
        self.mac(&["token", body]).verify_slice(&given).ok()?;
        let json = URL_SAFE_NO_PAD.decode(body).ok()?;
        serde_json::from_slice(&json).ok()
    }
}

/// `Hmac::new_from_slice` fails only for fixed-size keys, which HMAC does not have.
#[cold]
fn unreachable_mac() -> HmacSha256 {
    // A fixed key keeps this total without a panic; it is never reached.
    <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    #[test]
    fn a_sas_is_good_for_its_resource_and_permissions_until_it_expires() {
        let signer = Signer::new(b"secret".to_vec());
        let query = signer.sas(
            "container/tempstorage",
            'c',
            "rw",
            at("2030-01-01T00:00:00Z"),
        );
        assert!(query.starts_with("sv=2022-11-02&se=2030-01-01T00%3A00%3A00Z&sp=rw&sr=c&sig="));
        let sas = Sas::from_query(&format!("timeout=600&{query}"));
        let now = at("2029-12-31T00:00:00Z");
        signer
            .check("container/tempstorage", &sas, Permission::Write, now)
            .unwrap();
        // Another container, a permission not signed, expired, forged, another secret.
        assert!(
            signer
                .check("container/other", &sas, Permission::Write, now)
                .is_err()
        );
        let e = signer
            .check("container/tempstorage", &sas, Permission::Delete, now)
            .unwrap_err();
        assert!(e.to_string().contains("permission"), "{e}");
        assert!(
            signer
                .check(
                    "container/tempstorage",
                    &sas,
                    Permission::Read,
                    at("2030-01-02T00:00:00Z")
                )
                .is_err()
        );
        let widened = Sas {
            permissions: Some("rwd".into()),
            ..sas.clone()
        };
        assert!(
            signer
                .check("container/tempstorage", &widened, Permission::Delete, now)
                .is_err()
        );
        let later = Sas {
            expiry: Some("2099-01-01T00:00:00Z".into()),
            ..sas.clone()
        };
        assert!(
            signer
                .check("container/tempstorage", &later, Permission::Write, now)
                .is_err()
        );
        assert!(
            Signer::new(b"other".to_vec())
                .check("container/tempstorage", &sas, Permission::Write, now)
                .is_err()
        );
        assert!(
            signer
                .check(
                    "container/tempstorage",
                    &Sas::default(),
                    Permission::Read,
                    now
                )
                .is_err()
        );
    }

    #[test]
    fn tokens_open_only_with_their_signer() {
        let signer = Signer::new(b"secret".to_vec());
        let token = signer.token(&serde_json::json!({"p": "x"}));
        assert_eq!(signer.open_token(&token).unwrap()["p"], "x");
        assert!(Signer::new(b"other".to_vec()).open_token(&token).is_none());
        let (body, _) = token.split_once('.').unwrap();
        assert!(signer.open_token(&format!("{body}.AAAA")).is_none());
        assert!(signer.open_token("stub-authorization-context").is_none());
    }
}
