//! `calypso serve` settings: command-line flags (and environment variables) over an
//! optional TOML config file (`--config`), over the defaults.
//!
//! ```toml
//! listen = "0.0.0.0:8443"
//! data_dir = "/var/lib/calypso"
//! cluster_admins = ["aaduser=alice@contoso.com;72f988bf-86f1-41af-91ab-2d7cd011db47"]
//! cors_origins = ["http://localhost:3000"]   # web pages allowed besides the ADX web UI
//!
//! [auth]
//! mode = "jwt"                 # or "none"
//!
//! [auth.jwt]                   # calypso_auth::JwtConfig
//! cluster_url = "https://calypso.contoso.com:8443"
//! [[auth.jwt.issuers]]
//! issuer = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
//!
//! [auth.metadata]              # the AzureAD block of /v1/rest/auth/metadata (optional)
//! LoginEndpoint = "https://login.microsoftonline.com"
//!
//! [tls]
//! cert = "/etc/calypso/cert.pem"
//! key = "/etc/calypso/key.pem"
//!
//! [limits]
//! max_concurrent_queries = 40
//! max_queued_queries = 1000    # requests waiting for a slot, per workload
//! queue_timeout_secs = 30      # the longest wait before 429
//! client_read_timeout_secs = 30 # slow clients: headers, or a pause in the body
//! shutdown_timeout_secs = 30   # after SIGTERM, in-flight requests get this long
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use calypso_auth::{IssuerConfig, JwtConfig};
use calypso_server::{AadMetadata, AuthMode, Limits, ServeOptions, TlsFiles};
use serde::Deserialize;

/// Options of `calypso serve`.
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// A TOML config file; flags override its settings.
    #[arg(long, env = "CALYPSO_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "CALYPSO_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Where the catalog and the table data live, created on first start [default: calypso-data].
    #[arg(long, env = "CALYPSO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Authentication: `none` (anyone may do anything; only on loopback unless
    /// --allow-anonymous) or `jwt` (bearer tokens from --issuer).
    #[arg(long, env = "CALYPSO_AUTH", value_parser = ["none", "jwt"])]
    pub auth: Option<String>,
    /// An accepted token issuer (OIDC), e.g.
    /// https://login.microsoftonline.com/<tenant>/v2.0; repeat for several.
    #[arg(long = "issuer")]
    pub issuers: Vec<String>,
    /// An accepted token audience; repeat for several [default:
    /// https://kusto.kusto.windows.net and --cluster-url].
    #[arg(long = "audience")]
    pub audiences: Vec<String>,
    /// This cluster's public URL (accepted as a token audience).
    #[arg(long, env = "CALYPSO_CLUSTER_URL")]
    pub cluster_url: Option<String>,
    /// A principal made AllDatabasesAdmin at start, e.g. 'aaduser=alice@contoso.com;<tenant>'
    /// or 'aadapp=<app id>;<tenant>'; repeat for several.
    #[arg(long = "cluster-admin", env = "CALYPSO_CLUSTER_ADMIN")]
    pub cluster_admins: Vec<String>,
    /// Serve without authentication on a non-loopback address.
    #[arg(long)]
    pub allow_anonymous: bool,
    /// A web origin (scheme://host[:port]) whose pages may call the server, besides
    /// https://dataexplorer.azure.com; repeat for several. Requests from other origins get 403.
    #[arg(long = "cors-origin", env = "CALYPSO_CORS_ORIGIN")]
    pub cors_origins: Vec<String>,
    /// TLS certificate chain (PEM); with --tls-key, Calypso serves HTTPS.
    #[arg(long, env = "CALYPSO_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "CALYPSO_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Queries running at once; more wait in the queue (default: 10 per core).
    #[arg(long, env = "CALYPSO_MAX_CONCURRENT_QUERIES")]
    pub max_concurrent_queries: Option<usize>,
    /// Management commands running at once; more wait in the queue (default: 80).
    #[arg(long, env = "CALYPSO_MAX_CONCURRENT_COMMANDS")]
    pub max_concurrent_commands: Option<usize>,
    /// Streaming ingestions running at once; more wait in the queue (default: 10 per core).
    #[arg(long, env = "CALYPSO_MAX_CONCURRENT_INGESTIONS")]
    pub max_concurrent_ingestions: Option<usize>,
    /// Queries that may wait for a slot; beyond them, 429 at once (default: 500).
    #[arg(long, env = "CALYPSO_MAX_QUEUED_QUERIES")]
    pub max_queued_queries: Option<usize>,
    /// Management commands that may wait for a slot; beyond them, 429 at once (default: 500).
    #[arg(long, env = "CALYPSO_MAX_QUEUED_COMMANDS")]
    pub max_queued_commands: Option<usize>,
    /// Streaming ingestions that may wait for a slot; beyond them, 429 at once (default: 500).
    #[arg(long, env = "CALYPSO_MAX_QUEUED_INGESTIONS")]
    pub max_queued_ingestions: Option<usize>,
    /// Seconds a queued request waits for a slot before it gets 429; 0: no waiting
    /// (default: 30).
    #[arg(long, env = "CALYPSO_QUEUE_TIMEOUT_SECS")]
    pub queue_timeout_secs: Option<u64>,
    /// Seconds a client may take to send a request's headers, or pause while sending its
    /// body, before it is cut off (default: 30).
    #[arg(long, env = "CALYPSO_CLIENT_READ_TIMEOUT_SECS")]
    pub client_read_timeout_secs: Option<u64>,
    /// Seconds in-flight requests may take to finish after SIGINT/SIGTERM; connections
    /// still open then are closed (default: 30; 0: close them at once).
    #[arg(long, env = "CALYPSO_SHUTDOWN_TIMEOUT_SECS")]
    pub shutdown_timeout_secs: Option<u64>,
    /// Seconds after which a table's rows in the row store (small streaming ingests) are
    /// sealed into an extent (default: 10).
    #[arg(long, env = "CALYPSO_SEAL_AFTER_SECS")]
    pub seal_after_secs: Option<u64>,
    /// Seconds between two runs of the background retention and merge (default: 3600).
    #[arg(long, env = "CALYPSO_MERGE_EVERY_SECS")]
    pub merge_every_secs: Option<u64>,
    /// The address clients reach the server at (scheme://host[:port]), put in the URLs of
    /// `.get ingestion resources` (default: each request's scheme and Host header).
    #[arg(long, env = "CALYPSO_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A directory whose files `.ingest into table T ('file:///...')` may read (repeat it for
    /// several; none by default: ingestion from local files is off).
    #[arg(
        long = "ingest-from-dir",
        env = "CALYPSO_INGEST_FROM_DIRS",
        value_delimiter = ','
    )]
    pub ingest_from_dirs: Vec<PathBuf>,
    /// Let queries' `externaldata` read http(s) URLs (off by default: a query could make
    /// the server fetch any URL it can reach). Local files follow `--ingest-from-dir`.
    #[arg(
        long = "allow-externaldata-http",
        env = "CALYPSO_ALLOW_EXTERNALDATA_HTTP"
    )]
    pub allow_externaldata_http: bool,
}

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    cluster_admins: Vec<String>,
    allow_anonymous: bool,
    cors_origins: Vec<String>,
    auth: FileAuth,
    tls: Option<FileTls>,
    limits: FileLimits,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileAuth {
    mode: Option<String>,
    jwt: Option<JwtConfig>,
    metadata: Option<AadMetadata>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileLimits {
    max_concurrent_queries: Option<usize>,
    max_concurrent_commands: Option<usize>,
    max_concurrent_ingestions: Option<usize>,
    max_queued_queries: Option<usize>,
    max_queued_commands: Option<usize>,
    max_queued_ingestions: Option<usize>,
    queue_timeout_secs: Option<u64>,
    client_read_timeout_secs: Option<u64>,
    shutdown_timeout_secs: Option<u64>,
}

/// The server options from `args` (and the config file it names).
pub fn options(args: ServeArgs) -> Result<ServeOptions, String> {
    let file: FileConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => FileConfig::default(),
    };
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let data_dir = args
        .data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("calypso-data"));
    let mode = args
        .auth
        .clone()
        .or(file.auth.mode.clone())
        .unwrap_or_else(|| {
            if args.issuers.is_empty() && file.auth.jwt.is_none() {
                "none".into()
            } else {
                "jwt".into()
            }
        });
    let auth = match mode.as_str() {
        "none" => {
            if !(listen.ip().is_loopback() || args.allow_anonymous || file.allow_anonymous) {
                return Err(format!(
                    "Refusing to listen on {listen} without authentication: use --auth jwt with --issuer, or --allow-anonymous to serve everyone with every permission"
                ));
            }
            AuthMode::None
        }
        "jwt" => {
            let mut config = file.auth.jwt.unwrap_or_else(|| JwtConfig::new(Vec::new()));
            config
                .issuers
                .extend(args.issuers.iter().map(IssuerConfig::new));
            config.audiences.extend(args.audiences.iter().cloned());
            if let Some(url) = args.cluster_url.clone() {
                config.cluster_url = Some(url);
            }
            if config.issuers.is_empty() {
                return Err("--auth jwt needs at least one --issuer (or [[auth.jwt.issuers]] in the config file)".into());
            }
            let mut metadata = file.auth.metadata.unwrap_or_default();
            // Announce the configured audience unless the file set the metadata itself.
            if let Some(aud) = config.audiences.first()
                && metadata == AadMetadata::default()
            {
                metadata.kusto_service_resource_id = aud.clone();
            }
            AuthMode::Jwt { config, metadata }
        }
        other => return Err(format!("unknown --auth mode '{other}' (none, jwt)")),
    };
    let tls = match (args.tls_cert, args.tls_key, file.tls) {
        (Some(cert), Some(key), _) => Some(TlsFiles { cert, key }),
        (_, _, Some(t)) => Some(TlsFiles {
            cert: t.cert,
            key: t.key,
        }),
        _ => None,
    };
    let defaults = Limits::default();
    let limits = Limits {
        max_concurrent_queries: args
            .max_concurrent_queries
            .or(file.limits.max_concurrent_queries)
            .unwrap_or(defaults.max_concurrent_queries),
        max_concurrent_commands: args
            .max_concurrent_commands
            .or(file.limits.max_concurrent_commands)
            .unwrap_or(defaults.max_concurrent_commands),
        max_concurrent_ingestions: args
            .max_concurrent_ingestions
            .or(file.limits.max_concurrent_ingestions)
            .unwrap_or(defaults.max_concurrent_ingestions),
        max_queued_queries: args
            .max_queued_queries
            .or(file.limits.max_queued_queries)
            .unwrap_or(defaults.max_queued_queries),
        max_queued_commands: args
            .max_queued_commands
            .or(file.limits.max_queued_commands)
            .unwrap_or(defaults.max_queued_commands),
        max_queued_ingestions: args
            .max_queued_ingestions
            .or(file.limits.max_queued_ingestions)
            .unwrap_or(defaults.max_queued_ingestions),
        queue_timeout: args
            .queue_timeout_secs
            .or(file.limits.queue_timeout_secs)
            .map_or(defaults.queue_timeout, Duration::from_secs),
        client_read_timeout: args
            .client_read_timeout_secs
            .or(file.limits.client_read_timeout_secs)
            .filter(|s| *s > 0)
            .map_or(defaults.client_read_timeout, Duration::from_secs),
        shutdown_timeout: args
            .shutdown_timeout_secs
            .or(file.limits.shutdown_timeout_secs)
            .map_or(defaults.shutdown_timeout, Duration::from_secs),
    };
    let mut cluster_admins = file.cluster_admins;
    cluster_admins.extend(args.cluster_admins);
    for p in &cluster_admins {
        calypso_auth::PrincipalName::parse(p).map_err(|e| format!("--cluster-admin {p}: {e}"))?;
    }
    let mut cors_origins = file.cors_origins;
    cors_origins.extend(args.cors_origins);
    for o in &cors_origins {
        if !calypso_server::OriginPolicy::is_valid_origin(o) {
            return Err(format!(
                "--cors-origin {o} is not an origin (expected scheme://host[:port], e.g. http://localhost:3000)"
            ));
        }
    }
    let mut storage = calypso_engine::StorageOptions::default();
    if let Some(s) = args.seal_after_secs {
        storage.seal_after = Duration::from_secs(s);
    }
    if let Some(s) = args.merge_every_secs {
        storage.merge_every = Duration::from_secs(s.max(1));
    }
    Ok(ServeOptions {
        listen,
        data_dir,
        limits,
        auth,
        cluster_admins,
        tls,
        cors_origins,
        storage,
        public_url: args.public_url,
        ingest_from_dirs: args.ingest_from_dirs,
        allow_externaldata_http: args.allow_externaldata_http,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_needs_auth_or_allow_anonymous() {
        let args = ServeArgs {
            listen: Some("0.0.0.0:8080".parse().unwrap()),
            ..ServeArgs::default()
        };
        assert!(options(args).unwrap_err().contains("Refusing"));
        let args = ServeArgs {
            listen: Some("0.0.0.0:8080".parse().unwrap()),
            allow_anonymous: true,
            ..ServeArgs::default()
        };
        assert!(matches!(options(args).unwrap().auth, AuthMode::None));
        let args = ServeArgs {
            listen: Some("0.0.0.0:8080".parse().unwrap()),
            issuers: vec!["https://login.microsoftonline.com/t/v2.0".into()],
            cluster_admins: vec!["aadapp=abc;t".into()],
            ..ServeArgs::default()
        };
        let o = options(args).unwrap();
        assert!(matches!(o.auth, AuthMode::Jwt { .. }));
        assert_eq!(o.cluster_admins, vec!["aadapp=abc;t".to_string()]);
    }

    #[test]
    fn config_file_with_flag_overrides() {
        let dir = std::env::temp_dir().join(format!("calypso-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("calypso.toml");
        std::fs::write(
            &path,
            r#"
listen = "0.0.0.0:9000"
data_dir = "/tmp/x"
cluster_admins = ["aaduser=alice@contoso.com;t1"]
[auth]
mode = "jwt"
[auth.jwt]
audiences = ["https://calypso.contoso.com"]
[[auth.jwt.issuers]]
issuer = "https://login.microsoftonline.com/t1/v2.0"
tenant_id = "t1"
[tls]
cert = "c.pem"
key = "k.pem"
[limits]
max_concurrent_queries = 3
max_queued_commands = 7
queue_timeout_secs = 5
shutdown_timeout_secs = 2
"#,
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            listen: Some("127.0.0.1:9001".parse().unwrap()),
            queue_timeout_secs: Some(9),
            ..ServeArgs::default()
        };
        let o = options(args).unwrap();
        assert_eq!(o.listen.port(), 9001);
        assert_eq!(o.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(o.limits.max_concurrent_queries, 3);
        assert_eq!(o.limits.max_queued_commands, 7);
        assert_eq!(
            o.limits.max_queued_queries,
            Limits::default().max_queued_queries
        );
        assert_eq!(o.limits.queue_timeout, Duration::from_secs(9));
        assert_eq!(o.limits.shutdown_timeout, Duration::from_secs(2));
        assert_eq!(o.tls.unwrap().cert, PathBuf::from("c.pem"));
        let AuthMode::Jwt { config, metadata } = o.auth else {
            panic!("jwt expected")
        };
        assert_eq!(config.issuers[0].tenant_id.as_deref(), Some("t1"));
        // the metadata names the configured audience as the resource to get tokens for
        assert_eq!(
            metadata.kusto_service_resource_id,
            "https://calypso.contoso.com"
        );
        std::fs::write(&path, "unknown_key = 1").unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        assert!(options(args).unwrap_err().contains("unknown"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn jwt_needs_an_issuer_and_valid_admins() {
        let args = ServeArgs {
            auth: Some("jwt".into()),
            ..ServeArgs::default()
        };
        assert!(options(args).unwrap_err().contains("issuer"));
        let args = ServeArgs {
            cluster_admins: vec!["bob".into()],
            ..ServeArgs::default()
        };
        assert!(options(args).unwrap_err().contains("bob"));
    }
}
