//! This cluster's names: what `cluster("...")` may say to mean this server.
//!
//! A client writes a cluster as a host (`calypso.contoso.com`), `host:port`
//! (`127.0.0.1:8080`) or a URL (`http://127.0.0.1:8080/`), or, as for ADX's
//! `help.kusto.windows.net`, the first label of the host alone (`calypso`). The engine
//! is told its own addresses ([`crate::Engine::set_cluster_names`]: the listen address, the
//! public cluster URL); a loopback or unspecified listen host also answers to `localhost`,
//! `127.0.0.1` and `::1` on the same port. Until it is told, every local host (any port)
//! is this cluster (tests, `calypso query`).

/// A host and, when written or implied by the scheme, a port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Address {
    /// Lower case, without brackets or a trailing dot.
    host: String,
    port: Option<u16>,
    /// Written as a bare name (no scheme, no port).
    bare: bool,
}

const LOCAL_HOSTS: &[&str] = &["localhost", "127.0.0.1", "::1"];

fn is_local(host: &str) -> bool {
    LOCAL_HOSTS.contains(&host) || host.starts_with("127.") || host == "0.0.0.0" || host == "::"
}

/// Parses `host`, `host:port`, `[v6]:port` or `scheme://host[:port][/path]`.
fn parse(text: &str) -> Option<Address> {
    let t = text.trim();
    let (scheme, rest) = match t.split_once("://") {
        Some((s, r)) => (Some(s.to_ascii_lowercase()), r),
        None => (None, t),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = if let Some(r) = authority.strip_prefix('[') {
        let (h, after) = r.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p.parse::<u16>().ok()?)),
            None if after.is_empty() => (h, None),
            None => return None,
        }
    } else if authority.matches(':').count() == 1 {
        let (h, p) = authority.split_once(':')?;
        (h, Some(p.parse::<u16>().ok()?))
    } else {
        (authority, None)
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let bare = scheme.is_none() && port.is_none();
    let port = port.or(match scheme.as_deref() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    Some(Address { host, port, bare })
}

/// The names of this cluster.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterNames {
    addresses: Vec<Address>,
}

impl ClusterNames {
    /// This cluster's addresses (names that do not parse are ignored).
    pub(crate) fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> ClusterNames {
        let mut addresses = Vec::new();
        for n in names {
            let Some(a) = parse(n.as_ref()) else {
                continue;
            };
            if is_local(&a.host) {
                for h in LOCAL_HOSTS {
                    addresses.push(Address {
                        host: (*h).to_string(),
                        port: a.port,
                        bare: false,
                    });
                }
            }
            addresses.push(a);
        }
        ClusterNames { addresses }
    }

    /// Whether `cluster(name)` is this cluster.
    pub(crate) fn is_this(&self, name: &str) -> bool {
        let Some(c) = parse(name) else {
            return false;
        };
        if self.addresses.is_empty() {
            return is_local(&c.host);
        }
        self.addresses.iter().any(|a| {
            let same_port = c.port.is_none() || a.port.is_none() || c.port == a.port;
            (a.host == c.host && same_port)
                || (c.bare
                    && !c.host.contains('.')
                    && a.host.parse::<std::net::IpAddr>().is_err()
                    && a.host.split('.').next() == Some(c.host.as_str()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ClusterNames;

    #[test]
    fn unconfigured_means_local_hosts() {
        let n = ClusterNames::default();
        for yes in [
            "localhost",
            "127.0.0.1:8080",
            "http://127.0.0.1:8080",
            "http://localhost:9000/",
            "[::1]:8080",
            "::1",
            "LOCALHOST",
        ] {
            assert!(n.is_this(yes), "{yes}");
        }
        for no in [
            "help",
            "help.kusto.windows.net",
            "https://x.contoso.com",
            "",
        ] {
            assert!(!n.is_this(no), "{no}");
        }
    }

    #[test]
    fn configured_listen_address_and_cluster_url() {
        let n = ClusterNames::new(["http://127.0.0.1:8080", "https://calypso.contoso.com:8443"]);
        for yes in [
            "127.0.0.1:8080",
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "localhost",
            "localhost:8080",
            "http://localhost:8080",
            "[::1]:8080",
            "127.0.0.1",
            "calypso.contoso.com",
            "https://calypso.contoso.com:8443/",
            "Calypso.Contoso.com:8443",
            "calypso",
        ] {
            assert!(n.is_this(yes), "{yes}");
        }
        for no in [
            "127.0.0.1:9090",
            "http://localhost:9090",
            "https://calypso.contoso.com",
            "help",
            "other.contoso.com",
            "calypso.other.com",
        ] {
            assert!(!n.is_this(no), "{no}");
        }
    }
}
