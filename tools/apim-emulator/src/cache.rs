//! The built-in response cache behind `cache-lookup` / `cache-store`, bounded in bytes.
//!
//! APIM's built-in cache has a per-tier size limit and is volatile (Microsoft's "Caching
//! overview"); here the bound is `--cache-max-bytes`, and the least recently used entries
//! are evicted to stay under it (the `lru` crate keeps the order). Each entry counts its
//! key, headers and body.
//!
//! The key never holds a client's raw `Accept-Encoding` text: it holds the representation
//! the client can take (`gzip` or `identity`), so any number of different spellings map to
//! two entries, and a client that refuses gzip can never be served a gzip body.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName};
use http::{Method, StatusCode, Uri};
use lru::LruCache;

use crate::policy::CacheLookup;

/// A stored response.
#[derive(Clone)]
pub struct Cached {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    expires: Instant,
    weight: usize,
}

/// Bounded LRU of responses with a time to live each.
pub struct ResponseCache {
    entries: LruCache<String, Cached>,
    max_bytes: usize,
    bytes: usize,
}

impl ResponseCache {
    pub fn new(max_bytes: usize) -> ResponseCache {
        ResponseCache {
            entries: LruCache::unbounded(),
            max_bytes,
            bytes: 0,
        }
    }

    /// The largest body worth storing: a quarter of the cache, so one entry never
    /// evicts everything else.
    pub fn max_entry_bytes(&self) -> usize {
        self.max_bytes / 4
    }

    pub fn get(&mut self, key: &str) -> Option<Cached> {
        let now = Instant::now();
        match self.entries.get(key) {
            Some(entry) if entry.expires > now => Some(entry.clone()),
            Some(_) => {
                if let Some(stale) = self.entries.pop(key) {
                    self.bytes -= stale.weight;
                }
                None
            }
            None => None,
        }
    }

    /// Store a response; evicts least recently used entries to stay within the bound.
    pub fn put(
        &mut self,
        key: String,
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        ttl: Duration,
    ) {
        let weight = key.len()
            + body.len()
            + headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 32)
                .sum::<usize>()
            + 128;
        if weight > self.max_entry_bytes() || ttl.is_zero() {
            return;
        }
        if let Some(old) = self.entries.pop(&key) {
            self.bytes -= old.weight;
        }
        while self.bytes + weight > self.max_bytes {
            match self.entries.pop_lru() {
                Some((_, evicted)) => self.bytes -= evicted.weight,
                None => break,
            }
        }
        self.bytes += weight;
        self.entries.put(
            key,
            Cached {
                status,
                headers,
                body,
                expires: Instant::now() + ttl,
                weight,
            },
        );
    }

    /// Entries and bytes held (for tests and the log).
    pub fn usage(&self) -> (usize, usize) {
        (self.entries.len(), self.bytes)
    }
}

/// The representation a client's `Accept-Encoding` lets the gateway serve. Header lines
/// are combined first (RFC 9110 5.3: a field split over several lines is one list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    Gzip,
    Identity,
}

impl Representation {
    pub fn of(headers: &HeaderMap) -> Representation {
        let mut gzip = None;
        let mut star = None;
        for value in headers.get_all(header::ACCEPT_ENCODING) {
            let Ok(value) = value.to_str() else { continue };
            for item in value.split(',') {
                let mut parts = item.split(';');
                let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                    .filter_map(|q| q.trim().parse::<f32>().ok())
                    .next()
                    .unwrap_or(1.0);
                match coding.as_str() {
                    "gzip" | "x-gzip" => gzip = Some(q > 0.0),
                    "*" => star = Some(q > 0.0),
                    _ => {}
                }
            }
        }
        if gzip.or(star).unwrap_or(false) {
            Representation::Gzip
        } else {
            Representation::Identity
        }
    }

    /// Whether a response with this `Content-Encoding` may be served to such clients.
    pub fn admits(self, headers: &HeaderMap) -> bool {
        let encodings: Vec<String> = headers
            .get_all(header::CONTENT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty() && c != "identity")
            .collect();
        match encodings.as_slice() {
            [] => true,
            [gzip] if gzip == "gzip" || gzip == "x-gzip" => self == Representation::Gzip,
            _ => false,
        }
    }
}

/// The cache key of a request under a `cache-lookup`: method, path, the `vary-by-query-
/// parameter` pairs (sorted), the `vary-by-header` values; `Accept-Encoding` as the
/// representation, never as the client's text.
pub fn key(method: &Method, uri: &Uri, headers: &HeaderMap, lookup: &CacheLookup) -> String {
    let mut key = format!("{method} {}", uri.path());
    if let Some(query) = uri.query() {
        let mut pairs: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let name = crate::gateway::decode(pair.split_once('=').map_or(pair, |(n, _)| n));
                lookup.vary_by_query.contains(&name)
            })
            .collect();
        pairs.sort_unstable();
        key.push('?');
        key.push_str(&pairs.join("&"));
    }
    for name in &lookup.vary_by_headers {
        key.push('\n');
        key.push_str(name.as_str());
        key.push(':');
        if name == header::ACCEPT_ENCODING {
            key.push_str(match Representation::of(headers) {
                Representation::Gzip => "gzip",
                Representation::Identity => "identity",
            });
            continue;
        }
        for (i, value) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                key.push(',');
            }
            key.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
    }
    key
}

/// Request headers that make a backend answer something other than the full `200` a
/// cache must store (RFC 9110 13.1): removed from a request whose response will be stored.
pub const CONDITIONAL: [HeaderName; 5] = [
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_MATCH,
    header::IF_UNMODIFIED_SINCE,
    header::IF_RANGE,
];

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn accept(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn representation_reads_the_whole_list() {
        use Representation::*;
        assert_eq!(Representation::of(&accept(&[])), Identity);
        assert_eq!(Representation::of(&accept(&["gzip"])), Gzip);
        assert_eq!(Representation::of(&accept(&["br, GZIP;q=0.5"])), Gzip);
        assert_eq!(Representation::of(&accept(&["gzip;q=0"])), Identity);
        assert_eq!(Representation::of(&accept(&["identity", "gzip"])), Gzip);
        assert_eq!(Representation::of(&accept(&["*"])), Gzip);
        assert_eq!(Representation::of(&accept(&["*, gzip;q=0"])), Identity);
        assert_eq!(Representation::of(&accept(&["identity, x-17"])), Identity);
    }

    #[test]
    fn a_gzip_body_is_only_for_gzip_clients() {
        let mut gz = HeaderMap::new();
        gz.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert!(Representation::Gzip.admits(&gz));
        assert!(!Representation::Identity.admits(&gz));
        assert!(Representation::Identity.admits(&HeaderMap::new()));
        let mut br = HeaderMap::new();
        br.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        assert!(!Representation::Gzip.admits(&br));
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let mut cache = ResponseCache::new(64 * 1024);
        for i in 0..100 {
            cache.put(
                format!("k{i}"),
                StatusCode::OK,
                HeaderMap::new(),
                Bytes::from(vec![0u8; 4000]),
                Duration::from_secs(60),
            );
            assert!(cache.usage().1 <= 64 * 1024);
        }
        assert!(cache.get("k99").is_some(), "the newest stays");
        assert!(cache.get("k0").is_none(), "the oldest was evicted");
        cache.put(
            "big".into(),
            StatusCode::OK,
            HeaderMap::new(),
            Bytes::from(vec![0u8; 20_000]),
            Duration::from_secs(60),
        );
        assert!(
            cache.get("big").is_none(),
            "over a quarter of the cache: not stored"
        );
    }

    #[test]
    fn entries_expire() {
        let mut cache = ResponseCache::new(1 << 20);
        cache.put(
            "k".into(),
            StatusCode::OK,
            HeaderMap::new(),
            Bytes::from_static(b"x"),
            Duration::from_millis(1),
        );
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.get("k").is_none());
        assert_eq!(cache.usage(), (0, 0));
    }
}
