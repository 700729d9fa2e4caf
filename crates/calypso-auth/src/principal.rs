//! Kusto principal names (`aaduser=...;tenant`) and authenticated identities.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value, json};

use crate::AuthError;

/// The kind of a principal name, as in Kusto's `aaduser=`, `aadapp=`, `aadgroup=` prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// `aaduser`: a user.
    User,
    /// `aadapp`: an application (service principal, managed identity).
    App,
    /// `aadgroup`: a security group.
    Group,
}

impl PrincipalKind {
    /// The canonical (lowercase) prefix: `aaduser`, `aadapp` or `aadgroup`.
    pub fn prefix(self) -> &'static str {
        match self {
            PrincipalKind::User => "aaduser",
            PrincipalKind::App => "aadapp",
            PrincipalKind::Group => "aadgroup",
        }
    }

    fn from_prefix(s: &str) -> Option<Self> {
        [
            PrincipalKind::User,
            PrincipalKind::App,
            PrincipalKind::Group,
        ]
        .into_iter()
        .find(|k| k.prefix().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

/// A principal as written in Kusto security role commands: `kind=id[;tenant]`, e.g.
/// `aaduser=alice@contoso.com;72f988bf-86f1-41af-91ab-2d7cd011db47`,
/// `aadapp=<app id>;<tenant>` or `aadgroup=<object id or name>`.
///
/// Kinds are parsed case-insensitively; [`fmt::Display`] prints the canonical lowercase kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrincipalName {
    kind: PrincipalKind,
    id: String,
    tenant: Option<String>,
}

/// A principal name that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid principal name '{input}': {reason}")]
pub struct PrincipalNameError {
    input: String,
    reason: &'static str,
}

impl PrincipalName {
    /// A principal name from its parts (an empty tenant means none).
    pub fn new(kind: PrincipalKind, id: impl Into<String>, tenant: Option<String>) -> Self {
        PrincipalName {
            kind,
            id: id.into(),
            tenant: tenant.filter(|t| !t.is_empty()),
        }
    }

    /// Parses `kind=id[;tenant]` (surrounding whitespace ignored; kind case-insensitive).
    pub fn parse(s: &str) -> Result<Self, PrincipalNameError> {
        let err = |reason| PrincipalNameError {
            input: s.to_string(),
            reason,
        };
        let (kind, rest) = s
            .trim()
            .split_once('=')
            .ok_or_else(|| err("expected kind=id[;tenant], e.g. aaduser=alice@contoso.com"))?;
        let kind = PrincipalKind::from_prefix(kind.trim())
            .ok_or_else(|| err("the kind must be aaduser, aadapp or aadgroup"))?;
        let (id, tenant) = match rest.split_once(';') {
            Some((id, tenant)) => (id.trim(), Some(tenant.trim())),
            None => (rest.trim(), None),
        };
        if id.is_empty() {
            return Err(err("the id is empty"));
        }
        if tenant.is_some_and(|t| t.contains(';')) {
            return Err(err("more than one ';'"));
        }
        Ok(PrincipalName::new(kind, id, tenant.map(str::to_string)))
    }

    /// The kind (`aaduser`, `aadapp`, `aadgroup`).
    pub fn kind(&self) -> PrincipalKind {
        self.kind
    }

    /// The id: object id or UPN of a user, app id of an application, object id or name of a
    /// group.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The tenant, if the name has one.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }
}

impl FromStr for PrincipalName {
    type Err = PrincipalNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PrincipalName::parse(s)
    }
}

impl fmt::Display for PrincipalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.kind, self.id)?;
        if let Some(tenant) = &self.tenant {
            write!(f, ";{tenant}")?;
        }
        Ok(())
    }
}

/// Whether an identity is a user or an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityKind {
    /// A user (`aaduser`).
    User,
    /// An application (`aadapp`): app-only token of a service principal or managed identity.
    App,
}

/// The authenticated principal of a request, built from a validated token's claims.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    kind: IdentityKind,
    object_id: String,
    tenant_id: String,
    upn: Option<String>,
    app_id: Option<String>,
    display_name: String,
    groups: Vec<String>,
    issuer: String,
    claims: Value,
}

fn claim_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

impl Identity {
    /// Builds the identity of validated `claims` as Azure Data Explorer does.
    ///
    /// * **Application** when `idtyp` is `app`; or when there is no `upn`, `unique_name`,
    ///   `preferred_username` or `scp` claim and `oid == sub` (Entra app-only tokens); or when
    ///   there is no user claim at all (those and `email`) but `appid`/`azp` exists. Its id is
    ///   `appid` (v1 tokens), else `azp` (v2), else `sub`.
    /// * Otherwise a **user**, whose id is `oid`, else `sub`; UPN alias from `upn`, else
    ///   `unique_name`, `preferred_username`, `email`.
    ///
    /// The tenant is `tid`, else `default_tenant` (the issuer's configured tenant), else
    /// `issuer`. Group ids come from the `groups` claim (group overage claims are not
    /// followed).
    pub fn from_claims(
        claims: Value,
        issuer: &str,
        default_tenant: Option<&str>,
    ) -> Result<Identity, AuthError> {
        let Value::Object(map) = &claims else {
            return Err(AuthError::InvalidToken(
                "The token's payload is not a JSON object".into(),
            ));
        };
        let s = |name| claim_str(map, name);
        let tenant_id = s("tid").or(default_tenant).unwrap_or(issuer).to_string();
        let upn = s("upn")
            .or_else(|| s("unique_name"))
            .or_else(|| s("preferred_username"))
            .or_else(|| s("email"));
        let has_user_claim = ["upn", "unique_name", "preferred_username", "scp"]
            .iter()
            .any(|c| map.contains_key(*c));
        let app_id = s("appid").or_else(|| s("azp"));
        let idtyp = s("idtyp");
        let is_app = match idtyp {
            Some(t) if t.eq_ignore_ascii_case("app") => true,
            Some(t) if t.eq_ignore_ascii_case("user") => false,
            _ => {
                (!has_user_claim && s("oid").is_some() && s("oid") == s("sub"))
                    || (!has_user_claim && upn.is_none() && app_id.is_some())
            }
        };
        let groups = match map.get("groups") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        let identity = if is_app {
            let app_id = app_id.or_else(|| s("sub")).ok_or_else(|| {
                AuthError::InvalidToken(
                    "The application token has no 'appid', 'azp' or 'sub' claim".into(),
                )
            })?;
            Identity {
                kind: IdentityKind::App,
                object_id: s("oid").unwrap_or(app_id).to_string(),
                tenant_id,
                upn: None,
                app_id: Some(app_id.to_string()),
                display_name: s("app_displayname")
                    .or_else(|| s("name"))
                    .unwrap_or(app_id)
                    .to_string(),
                groups,
                issuer: issuer.to_string(),
                claims: Value::Null,
            }
        } else {
            let object_id = s("oid").or_else(|| s("sub")).ok_or_else(|| {
                AuthError::InvalidToken("The user token has no 'oid' or 'sub' claim".into())
            })?;
            Identity {
                kind: IdentityKind::User,
                object_id: object_id.to_string(),
                tenant_id,
                upn: upn.map(str::to_string),
                app_id: app_id.map(str::to_string),
                display_name: s("name").or(upn).unwrap_or(object_id).to_string(),
                groups,
                issuer: issuer.to_string(),
                claims: Value::Null,
            }
        };
        Ok(Identity { claims, ..identity })
    }

    /// User or application.
    pub fn kind(&self) -> IdentityKind {
        self.kind
    }

    /// The fully qualified name Kusto shows in `current_principal()`:
    /// `aaduser=<object id>;<tenant>` or `aadapp=<app id>;<tenant>`.
    pub fn fqn(&self) -> String {
        self.principal_name().to_string()
    }

    /// [`Identity::fqn`] as a [`PrincipalName`].
    pub fn principal_name(&self) -> PrincipalName {
        match self.kind {
            IdentityKind::User => PrincipalName::new(
                PrincipalKind::User,
                &self.object_id,
                Some(self.tenant_id.clone()),
            ),
            IdentityKind::App => PrincipalName::new(
                PrincipalKind::App,
                self.app_id.as_deref().unwrap_or(&self.object_id),
                Some(self.tenant_id.clone()),
            ),
        }
    }

    /// The display name (`name` claim, else UPN / app display name, else the id).
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// The object id (`oid`, else `sub`; for applications without `oid`, the app id).
    pub fn object_id(&self) -> &str {
        &self.object_id
    }

    /// The tenant (`tid`, else the issuer's configured tenant, else the issuer URL).
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// A user's sign-in name (`upn`, `unique_name`, `preferred_username` or `email`).
    pub fn upn(&self) -> Option<&str> {
        self.upn.as_deref()
    }

    /// The application id: of the calling app for app-only tokens, of the client app (`appid`
    /// or `azp`) for user tokens.
    pub fn app_id(&self) -> Option<&str> {
        self.app_id.as_deref()
    }

    /// Object ids of the groups the principal is a member of (the `groups` claim).
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The groups as principal names, `aadgroup=<oid>;<tenant>`.
    pub fn group_names(&self) -> Vec<PrincipalName> {
        self.groups
            .iter()
            .map(|g| PrincipalName::new(PrincipalKind::Group, g, Some(self.tenant_id.clone())))
            .collect()
    }

    /// The token's issuer (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// All claims of the validated token, as JSON.
    pub fn claims(&self) -> &Value {
        &self.claims
    }

    /// Whether a role assignment to `principal` applies to this identity.
    ///
    /// * `aaduser=X` matches a user whose object id or UPN is `X`;
    /// * `aadapp=X` matches an application whose app id is `X`;
    /// * `aadgroup=X` matches any identity whose `groups` contain `X`;
    ///
    /// ids compared case-insensitively. A tenant on the assignment (or else `default_tenant`)
    /// must equal the identity's tenant (case-insensitively); with neither, any tenant matches.
    pub fn matches(&self, principal: &PrincipalName, default_tenant: Option<&str>) -> bool {
        if let Some(tenant) = principal.tenant().or(default_tenant)
            && !tenant.eq_ignore_ascii_case(&self.tenant_id)
        {
            return false;
        }
        let id = principal.id();
        let eq = |s: Option<&str>| s.is_some_and(|s| s.eq_ignore_ascii_case(id));
        match principal.kind() {
            PrincipalKind::User => {
                self.kind == IdentityKind::User
                    && (eq(Some(&self.object_id)) || eq(self.upn.as_deref()))
            }
            PrincipalKind::App => self.kind == IdentityKind::App && eq(self.app_id.as_deref()),
            PrincipalKind::Group => self.groups.iter().any(|g| eq(Some(g))),
        }
    }

    /// What Kusto's `current_principal_details()` returns, as a JSON object.
    ///
    /// Keys follow Azure Data Explorer's documented output, plus two of our own:
    ///
    /// | key | value |
    /// |---|---|
    /// | `UserPrincipalName` | users only: the UPN (or `""` when the token has none) |
    /// | `IdentityProvider` | scheme and host of the issuer, e.g. `https://sts.windows.net` |
    /// | `Authority` | the tenant id |
    /// | `Mfa` | `"True"` when the `amr` claim contains `mfa`, else `"False"` |
    /// | `Type` | `"AadUser"` or `"AadApplication"` |
    /// | `DisplayName` | `"Name (upn: alice@contoso.com)"` for users, `"Name (app id: X)"` for apps |
    /// | `ObjectId` | the object id |
    /// | `FQN` | [`Identity::fqn`] |
    /// | `Notes` | `""` |
    /// | `TenantId` | (ours) the tenant id, as `Authority` |
    /// | `AppId` | (ours) applications only: the app id |
    pub fn details_json(&self) -> Value {
        let mut out = Map::new();
        if self.kind == IdentityKind::User {
            out.insert(
                "UserPrincipalName".into(),
                json!(self.upn.as_deref().unwrap_or("")),
            );
        }
        out.insert(
            "IdentityProvider".into(),
            json!(identity_provider(&self.issuer)),
        );
        out.insert("Authority".into(), json!(self.tenant_id));
        let mfa = self
            .claims
            .get("amr")
            .and_then(Value::as_array)
            .is_some_and(|amr| amr.iter().any(|m| m.as_str() == Some("mfa")));
        out.insert("Mfa".into(), json!(if mfa { "True" } else { "False" }));
        let (kind, display) = match self.kind {
            IdentityKind::User => (
                "AadUser",
                match &self.upn {
                    Some(upn) if upn != &self.display_name => {
                        format!("{} (upn: {upn})", self.display_name)
                    }
                    _ => self.display_name.clone(),
                },
            ),
            IdentityKind::App => (
                "AadApplication",
                match &self.app_id {
                    Some(app) if app != &self.display_name => {
                        format!("{} (app id: {app})", self.display_name)
                    }
                    _ => self.display_name.clone(),
                },
            ),
        };
        out.insert("Type".into(), json!(kind));
        out.insert("DisplayName".into(), json!(display));
        out.insert("ObjectId".into(), json!(self.object_id));
        out.insert("FQN".into(), json!(self.fqn()));
        out.insert("Notes".into(), json!(""));
        out.insert("TenantId".into(), json!(self.tenant_id));
        if self.kind == IdentityKind::App {
            out.insert("AppId".into(), json!(self.app_id.as_deref().unwrap_or("")));
        }
        Value::Object(out)
    }
}

/// `https://sts.windows.net/{tid}/` → `https://sts.windows.net`.
fn identity_provider(issuer: &str) -> String {
    match url::Url::parse(issuer) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => issuer.to_string(),
    }
}

#[cfg(test)]
#[path = "principal_tests.rs"]
mod tests;
