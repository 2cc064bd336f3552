//! Values parsed once, where they enter, into types that cannot hold an invalid value: the
//! pod name, peer URLs, DNS labels and names. The configuration and the cluster view both
//! build on these, so each rule is written here and nowhere else.

use std::fmt;

use axum::http::{HeaderValue, Uri};
use serde::{Deserialize, Serialize, Serializer};

/// The longest prefix of untrusted input quoted back in an error message.
pub const QUOTE_LIMIT: usize = 64;

/// Untrusted bytes as they appear in an error message: at most `QUOTE_LIMIT` bytes, control
/// characters escaped, and the full length when it was cut.
pub fn quote(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "\"\" (empty)".to_owned();
    }
    let shown = &bytes[..bytes.len().min(QUOTE_LIMIT)];
    let quoted = String::from_utf8_lossy(shown).escape_debug().to_string();
    if bytes.len() > QUOTE_LIMIT {
        format!("\"{quoted}\"... ({} bytes)", bytes.len())
    } else {
        format!("\"{quoted}\"")
    }
}

/// Kubernetes object names are DNS subdomains: at most 253 characters.
const MAX_POD_NAME_LEN: usize = 253;

/// A replica's name: 1 to 253 visible ASCII characters, so it fits an HTTP header as it is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PodName {
    name: String,
    header: HeaderValue,
}

impl PodName {
    pub fn parse(name: &str) -> Result<PodName, String> {
        let visible = !name.is_empty()
            && name.len() <= MAX_POD_NAME_LEN
            && name.bytes().all(|b| b.is_ascii_graphic());
        let header = HeaderValue::from_str(name).ok().filter(|_| visible);
        match header {
            Some(header) => Ok(PodName {
                name: name.to_owned(),
                header,
            }),
            None => Err(format!(
                "{} is not a pod name (1 to 253 visible ASCII characters)",
                quote(name.as_bytes())
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The name as the value of the `X-Served-By` header.
    pub fn header_value(&self) -> &HeaderValue {
        &self.header
    }
}

impl fmt::Display for PodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Debug for PodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.name, f)
    }
}

impl Serialize for PodName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for PodName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        PodName::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// The base URL of a replica: `http://host[:port][/path]`, without query or fragment, kept
/// without a trailing slash. Its `/visits` URI is built once, here.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerUrl {
    base: String,
    parsed: url::Url,
    visits: Uri,
}

impl PeerUrl {
    pub fn parse(url: &str) -> Result<PeerUrl, String> {
        let invalid = |reason: &str| format!("{url:?} {reason}");
        let parsed = url::Url::parse(url).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
        if parsed.scheme() != "http" {
            return Err(invalid("is not http://: peers are reached over http://"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid("has no host"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid(
                "has a ?query or #fragment: a peer URL is a base URL",
            ));
        }
        let mut visits = parsed.clone();
        visits.set_path(&format!("{}/visits", parsed.path().trim_end_matches('/')));
        let visits = visits
            .as_str()
            .parse::<Uri>()
            .map_err(|e| invalid(&format!("is not usable as an HTTP URI ({e})")))?;
        Ok(PeerUrl {
            base: url.trim_end_matches('/').to_owned(),
            parsed,
            visits,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// `<base>/visits`, the URI a replica is asked for its count at.
    pub fn visits_uri(&self) -> &Uri {
        &self.visits
    }

    /// Whether reaching it needs no DNS lookup.
    pub fn host_is_ip(&self) -> bool {
        matches!(
            self.parsed.host(),
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_))
        )
    }

    /// The URL as parsed (host and port, for recognizing this replica's own URL).
    pub fn parsed(&self) -> &url::Url {
        &self.parsed
    }
}

impl fmt::Display for PeerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

impl fmt::Debug for PeerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.base, f)
    }
}

impl Serialize for PeerUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.base)
    }
}

/// A DNS label (RFC 1123): a namespace or a Service name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DnsLabel(String);

impl DnsLabel {
    pub fn parse(label: &str) -> Result<DnsLabel, String> {
        if is_dns_label(label) {
            Ok(DnsLabel(label.to_owned()))
        } else {
            Err("must be a DNS label (lowercase letters, digits, '-')".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A DNS name of labels, with or without the final dot: the cluster domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DnsName(String);

impl DnsName {
    pub fn parse(name: &str) -> Result<DnsName, String> {
        let labels = name.strip_suffix('.').unwrap_or(name);
        if !labels.is_empty() && name.len() <= 253 && labels.split('.').all(is_dns_label) {
            Ok(DnsName(name.to_owned()))
        } else {
            Err("must be a DNS name like cluster.local".to_owned())
        }
    }

    /// The name without a final dot.
    pub fn relative(&self) -> &str {
        self.0.trim_end_matches('.')
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names_are_visible_ascii() {
        let pod = |name: &str| PodName::parse(name).expect(name);
        for bad in ["", "a b", "caf\u{e9}", "tab\there", &"a".repeat(254)] {
            assert!(PodName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(pod("p-1").header_value(), "p-1");
    }

    #[test]
    fn peer_urls_are_http_base_urls() {
        let url = PeerUrl::parse("http://a:1/base/").expect("base path");
        assert_eq!(url.as_str(), "http://a:1/base");
        assert_eq!(url.visits_uri().to_string(), "http://a:1/base/visits");
        assert!(!url.host_is_ip());
        assert!(
            PeerUrl::parse("http://127.0.0.1:8080")
                .unwrap()
                .host_is_ip()
        );
        assert!(PeerUrl::parse("http://[::1]:8080/").unwrap().host_is_ip());
        for bad in [
            "ftp://a:1",
            "http://a:1/?x=1",
            "http://a:1/#top",
            "not a url",
            "http://",
        ] {
            assert!(PeerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_labels_and_names() {
        assert!(DnsLabel::parse("app-rust-headless").is_ok());
        for bad in ["", "-a", "a-", "A", "a.b", &"a".repeat(64)] {
            assert!(DnsLabel::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            DnsName::parse("k8s.example.").unwrap().relative(),
            "k8s.example"
        );
        for bad in ["", ".", "a..b", "Cluster.local"] {
            assert!(DnsName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quotes_are_bounded_and_escaped() {
        assert_eq!(quote(b"twelve\n"), "\"twelve\\n\"");
        assert_eq!(quote(b""), "\"\" (empty)");
        let long = quote(&[b'x'; 100]);
        assert!(long.ends_with("... (100 bytes)"), "{long}");
    }
}
