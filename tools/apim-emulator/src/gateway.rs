//! The request pipeline: API and operation matching, CORS, subscription keys, the inbound
//! policies, forwarding (streamed, with a timeout), the outbound policies.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::declarations::{Api, Declarations};
use crate::policy::{Cors, ExistsAction, Policy};
use crate::responses::{self, Body};

/// `forward-request`'s default timeout when a policy does not set one (APIM's default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// Responses larger than this are streamed through and not cached.
const MAX_CACHED_BODY: usize = 8 * 1024 * 1024;
/// Hop-by-hop headers (RFC 9110 7.6.1) are never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// One subscription's keys (primary, secondary), as the local product's subscription.
pub struct Subscription {
    pub keys: Vec<String>,
}

/// A fixed rate-limit window.
struct Window {
    started: Instant,
    calls: u64,
}

/// A cached response.
#[derive(Clone)]
struct Cached {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    expires: Instant,
}

/// What one request did, for its log line.
#[derive(Default)]
struct Trace {
    api: Option<String>,
    operation: Option<String>,
    subscription: Option<&'static str>,
    cache: Option<&'static str>,
    backend: Option<Duration>,
}

/// What may change while the gateway runs (SIGHUP re-reads it): the declarations with the
/// named values substituted, and the backend URL. Swapped as a whole, so a request sees
/// either the old or the new settings, never a mix.
pub struct Config {
    pub declarations: Declarations,
    pub backend_base: Uri,
}

pub struct Gateway {
    config: RwLock<Arc<Config>>,
    subscription: Subscription,
    client: Client<HttpConnector, Body>,
    windows: Mutex<HashMap<(String, &'static str), Window>>,
    cache: Mutex<HashMap<String, Cached>>,
}

impl Gateway {
    pub fn new(config: Config, subscription: Subscription) -> Gateway {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Gateway {
            config: RwLock::new(Arc::new(config)),
            subscription,
            client,
            windows: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Swap in new settings; requests in flight finish with the ones they started with.
    /// Rate-limit counters and the cache are kept.
    pub fn replace(&self, config: Config) {
        *self.config.write().expect("config lock") = Arc::new(config);
    }

    fn config(&self) -> Arc<Config> {
        self.config.read().expect("config lock").clone()
    }

    /// Answer one request and log it.
    pub async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let method = request.method().clone();
        // Only the path is logged: the query may carry a subscription key.
        let path = request.uri().path().to_owned();
        let mut trace = Trace::default();
        let response = self.pipeline(request, peer, &mut trace).await;
        println!(
            "{method} {path} -> {} api={} op={} sub={} cache={} backend={} total={:.2}ms",
            response.status().as_u16(),
            trace.api.as_deref().unwrap_or("-"),
            trace.operation.as_deref().unwrap_or("-"),
            trace.subscription.unwrap_or("-"),
            trace.cache.unwrap_or("-"),
            trace
                .backend
                .map(|d| format!("{:.2}ms", d.as_secs_f64() * 1e3))
                .unwrap_or_else(|| "-".into()),
            started.elapsed().as_secs_f64() * 1e3,
        );
        response
    }

    async fn pipeline(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
        trace: &mut Trace,
    ) -> Response<Body> {
        if let Some(refusal) = path_refusal(request.uri().path()) {
            return responses::bad_request(refusal);
        }
        let config = self.config();
        let Some((api, rest)) = find_api(&config.declarations, request.uri().path()) else {
            return responses::not_found();
        };
        trace.api = Some(api.name.clone());
        let cors = api.policy.inbound.iter().find_map(|p| match p {
            Policy::Cors(cors) => Some(cors),
            _ => None,
        });
        let origin = request.headers().get(header::ORIGIN).cloned();
        if let (Some(cors), true) = (cors, is_preflight(&request)) {
            if api.operations.iter().any(|op| op.template.matches(&rest)) {
                return preflight(cors, request.headers());
            }
            return responses::not_found();
        }
        let Some(operation) = api
            .operations
            .iter()
            .find(|op| op.method == request.method() && op.template.matches(&rest))
        else {
            return responses::not_found();
        };
        trace.operation = Some(operation.name.clone());

        let subscription = if api.subscription_required {
            match self.subscription_of(api, &request) {
                Ok(which) => Some(which),
                Err(refusal) => {
                    let host = request
                        .headers()
                        .get(header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("localhost");
                    let realm = format!("http://{host}/{}", api.path);
                    let response = responses::challenge(refusal(), &realm, &api.key_names.header);
                    return with_cors(response, cors, origin.as_ref());
                }
            }
        } else {
            None
        };
        trace.subscription = subscription;

        let (mut parts, body) = request.into_parts();
        let mut query = parts.uri.query().map(str::to_owned);
        let mut cache_key = None;
        for policy in &api.policy.inbound {
            match policy {
                Policy::Base | Policy::Cors(_) | Policy::SetBackendService { .. } => {}
                Policy::RateLimit {
                    calls,
                    renewal_period,
                } => {
                    // Both keys belong to the one local subscription: one counter.
                    let counter = if subscription.is_some() {
                        "local"
                    } else {
                        "anonymous"
                    };
                    if let Err(retry_after) =
                        self.count_call(&api.name, counter, *calls, *renewal_period)
                    {
                        return with_cors(
                            responses::rate_limited(retry_after),
                            cors,
                            origin.as_ref(),
                        );
                    }
                }
                Policy::CacheLookup {
                    vary_by_headers,
                    vary_by_query,
                    ..
                } => {
                    let key = cache_key_of(
                        &parts.method,
                        &parts.uri,
                        &parts.headers,
                        vary_by_headers,
                        vary_by_query,
                    );
                    if let Some(hit) = self.cache_get(&key) {
                        trace.cache = Some("hit");
                        let mut response = Response::new(responses::full(hit.body));
                        *response.status_mut() = hit.status;
                        *response.headers_mut() = hit.headers;
                        return with_cors(response, cors, origin.as_ref());
                    }
                    trace.cache = Some("miss");
                    cache_key = Some(key);
                }
                Policy::SetHeader {
                    name,
                    action,
                    values,
                } => apply_header(&mut parts.headers, name, *action, values),
                Policy::SetQueryParameter {
                    name,
                    action,
                    values,
                } => {
                    query = apply_query(query.as_deref(), name, *action, values);
                }
                Policy::CacheStore { .. } | Policy::ForwardRequest { .. } => {
                    unreachable!("checked at load")
                }
            }
        }

        let timeout = api
            .policy
            .backend
            .iter()
            .find_map(|p| match p {
                Policy::ForwardRequest { timeout } => Some(*timeout),
                _ => None,
            })
            .unwrap_or(DEFAULT_TIMEOUT);
        let forwarded =
            match forward_request(&config, api, parts, body, &rest, query.as_deref(), peer) {
                Ok(forwarded) => forwarded,
                Err(_) => return with_cors(responses::backend_error(), cors, origin.as_ref()),
            };
        let backend_started = Instant::now();
        let result = tokio::time::timeout(timeout, self.client.request(forwarded)).await;
        trace.backend = Some(backend_started.elapsed());
        let response = match result {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                eprintln!("apim-emulator: backend error: {error}");
                return with_cors(responses::backend_error(), cors, origin.as_ref());
            }
            Err(_) => {
                eprintln!("apim-emulator: backend did not answer within {timeout:?}");
                return with_cors(responses::backend_error(), cors, origin.as_ref());
            }
        };
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        for policy in &api.policy.outbound {
            match policy {
                Policy::SetHeader {
                    name,
                    action,
                    values,
                } => apply_header(&mut parts.headers, name, *action, values),
                Policy::CacheStore { duration } => {
                    if let Some(key) = cache_key.take() {
                        let small = parts
                            .headers
                            .get(header::CONTENT_LENGTH)
                            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                            .is_some_and(|len| len <= MAX_CACHED_BODY);
                        if parts.status == StatusCode::OK && small {
                            let Ok(collected) = Limited::new(body, MAX_CACHED_BODY).collect().await
                            else {
                                return with_cors(
                                    responses::backend_error(),
                                    cors,
                                    origin.as_ref(),
                                );
                            };
                            let bytes = collected.to_bytes();
                            self.cache_put(key, &parts, bytes.clone(), *duration);
                            let response = Response::from_parts(parts, responses::full(bytes));
                            return with_cors(response, cors, origin.as_ref());
                        }
                    }
                }
                _ => {}
            }
        }
        let response = Response::from_parts(parts, body.map_err(Into::into).boxed());
        with_cors(response, cors, origin.as_ref())
    }

    /// Which of the subscription's keys the request carries, or the APIM 401.
    fn subscription_of(
        &self,
        api: &Api,
        request: &Request<Incoming>,
    ) -> Result<&'static str, fn() -> Response<Body>> {
        let mut header_values = request
            .headers()
            .get_all(api.key_names.header.as_str())
            .iter();
        let from_header = header_values.next().map(|v| v.as_bytes().to_vec());
        if header_values.next().is_some() {
            // Two key headers: refuse rather than guess which one counts.
            return Err(responses::invalid_key);
        }
        let from_query = request.uri().query().and_then(|q| {
            q.split('&')
                .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
                .find(|(name, _)| decode(name) == api.key_names.query)
                .map(|(_, value)| decode(value).into_bytes())
        });
        let Some(given) = from_header.or(from_query) else {
            return Err(responses::missing_key);
        };
        for (index, key) in self.subscription.keys.iter().enumerate() {
            if constant_time_eq(&given, key.as_bytes()) {
                return Ok(if index == 0 {
                    "local(primary)"
                } else {
                    "local(secondary)"
                });
            }
        }
        Err(responses::invalid_key)
    }

    /// Count a call in the fixed window; `Err(seconds until renewal)` when over the limit.
    fn count_call(
        &self,
        api: &str,
        counter: &'static str,
        calls: u64,
        period: Duration,
    ) -> Result<(), u64> {
        let mut windows = self.windows.lock().expect("rate-limit lock");
        let now = Instant::now();
        let window = windows.entry((api.to_owned(), counter)).or_insert(Window {
            started: now,
            calls: 0,
        });
        if now.duration_since(window.started) >= period {
            *window = Window {
                started: now,
                calls: 0,
            };
        }
        if window.calls >= calls {
            let left = period.saturating_sub(now.duration_since(window.started));
            return Err(left.as_secs() + u64::from(left.subsec_nanos() > 0));
        }
        window.calls += 1;
        Ok(())
    }

    fn cache_get(&self, key: &str) -> Option<Cached> {
        let mut cache = self.cache.lock().expect("cache lock");
        match cache.get(key) {
            Some(entry) if entry.expires > Instant::now() => Some(entry.clone()),
            Some(_) => {
                cache.remove(key);
                None
            }
            None => None,
        }
    }

    fn cache_put(
        &self,
        key: String,
        parts: &http::response::Parts,
        body: Bytes,
        duration: Duration,
    ) {
        let mut cache = self.cache.lock().expect("cache lock");
        let now = Instant::now();
        cache.retain(|_, entry| entry.expires > now);
        cache.insert(
            key,
            Cached {
                status: parts.status,
                headers: parts.headers.clone(),
                body,
                expires: now + duration,
            },
        );
    }
}

/// The request to the backend: base URL + the path after the API prefix + query,
/// headers minus hop-by-hop, the API's backend entity's credentials headers,
/// `X-Forwarded-For`.
fn forward_request(
    config: &Config,
    api: &Api,
    mut parts: http::request::Parts,
    body: Incoming,
    rest: &str,
    query: Option<&str>,
    peer: SocketAddr,
) -> anyhow::Result<Request<Body>> {
    let base = config.backend_base.to_string();
    let mut uri = format!("{}{}", base.trim_end_matches('/'), rest);
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::HOST);
    let forwarded_for = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(previous) => format!("{previous}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    parts.headers.insert(
        HeaderName::from_static("x-forwarded-for"),
        forwarded_for.parse()?,
    );
    // The credentials of the backend entity the API's `set-backend-service` names.
    let backend = api
        .backend_id
        .as_deref()
        .and_then(|id| config.declarations.backend(id));
    for (name, value) in backend.iter().flat_map(|b| &b.credential_headers) {
        parts.headers.insert(name.clone(), value.clone());
    }
    parts.uri = uri.parse()?;
    parts.version = http::Version::HTTP_11;
    Ok(Request::from_parts(parts, body.map_err(Into::into).boxed()))
}

/// The API whose path is the first segment, and the rest of the path (`/...`).
fn find_api<'d>(declarations: &'d Declarations, path: &str) -> Option<(&'d Api, String)> {
    let trimmed = path.strip_prefix('/')?;
    let (first, rest) = trimmed
        .split_once('/')
        .map_or((trimmed, ""), |(f, r)| (f, r));
    let api = declarations.apis.iter().find(|api| api.path == first)?;
    Some((api, format!("/{rest}")))
}

/// Why a request path is refused before any routing, if it is: a `.` or `..` segment, or
/// an encoded dot, slash or backslash (`%2e`, `%2f`, `%5c`, any case), or a backslash.
/// A backend or a proxy in front of it (Traefik decodes `%2e` and removes dot segments
/// before routing) could resolve such a path to a route the API does not declare, and
/// the API's credential would go with it. The ingress refuses the same paths (SPEC
/// section 5). APIM's own handling is not documented; `cargo xtask verify` records it.
fn path_refusal(path: &str) -> Option<&'static str> {
    if path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Some("Invalid request path: dot segments are not accepted");
    }
    let lower = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e)) || path.contains('\\') {
        return Some("Invalid request path: encoded dots and separators are not accepted");
    }
    None
}

fn is_preflight<B>(request: &Request<B>) -> bool {
    request.method() == Method::OPTIONS
        && request.headers().contains_key(header::ORIGIN)
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

fn origin_allowed(cors: &Cors, origin: &HeaderValue) -> bool {
    cors.origins
        .iter()
        .any(|allowed| allowed == "*" || allowed.as_bytes() == origin.as_bytes())
}

/// Answer a CORS preflight from the `<cors>` policy.
fn preflight(cors: &Cors, headers: &HeaderMap) -> Response<Body> {
    let mut response = Response::new(responses::empty());
    let origin = headers
        .get(header::ORIGIN)
        .expect("checked by is_preflight");
    let method = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .unwrap_or("");
    let method_ok = cors.methods.is_empty() && method == "GET"
        || cors
            .methods
            .iter()
            .any(|m| m == "*" || m.eq_ignore_ascii_case(method));
    let requested: Vec<String> = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|h| h.to_str().ok())
        .map(|h| {
            h.split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let headers_ok = requested.iter().all(|name| {
        cors.allowed_headers
            .iter()
            .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(name))
    });
    if !(origin_allowed(cors, origin) && method_ok && headers_ok) {
        // terminate-unmatched-request="true": an empty 200 without CORS headers, so the
        // browser refuses the cross-origin call.
        return response;
    }
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        allow_origin_value(cors, origin),
    );
    if cors.allow_credentials {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    if let Ok(value) = HeaderValue::from_str(method) {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, value);
    }
    if !requested.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&requested.join(",")) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
    }
    if let Some(age) = cors.preflight_max_age {
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
    }
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}

fn allow_origin_value(cors: &Cors, origin: &HeaderValue) -> HeaderValue {
    if cors.origins.iter().any(|o| o == "*") && !cors.allow_credentials {
        HeaderValue::from_static("*")
    } else {
        origin.clone()
    }
}

/// Add the CORS headers of an actual (non-preflight) cross-origin response.
fn with_cors(
    mut response: Response<Body>,
    cors: Option<&Cors>,
    origin: Option<&HeaderValue>,
) -> Response<Body> {
    let (Some(cors), Some(origin)) = (cors, origin) else {
        return response;
    };
    if !origin_allowed(cors, origin) {
        return response;
    }
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        allow_origin_value(cors, origin),
    );
    if cors.allow_credentials {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    if !cors.expose_headers.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&cors.expose_headers.join(",")) {
            h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, value);
        }
    }
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    response
}

fn apply_header(
    headers: &mut HeaderMap,
    name: &HeaderName,
    action: ExistsAction,
    values: &[HeaderValue],
) {
    match action {
        ExistsAction::Delete => {
            headers.remove(name);
        }
        ExistsAction::Skip if headers.contains_key(name) => {}
        ExistsAction::Override | ExistsAction::Skip => {
            headers.remove(name);
            for value in values {
                headers.append(name.clone(), value.clone());
            }
        }
        ExistsAction::Append => {
            for value in values {
                headers.append(name.clone(), value.clone());
            }
        }
    }
}

/// Apply a `set-query-parameter` to a raw query string; names compare after decoding.
fn apply_query(
    query: Option<&str>,
    name: &str,
    action: ExistsAction,
    values: &[String],
) -> Option<String> {
    let pairs: Vec<&str> = query
        .map(|q| q.split('&').filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let is_name = |pair: &&str| decode(pair.split_once('=').map_or(*pair, |(n, _)| n)) == name;
    let exists = pairs.iter().any(is_name);
    let mut kept: Vec<String> = match action {
        ExistsAction::Skip | ExistsAction::Append => pairs.iter().map(|p| p.to_string()).collect(),
        ExistsAction::Override | ExistsAction::Delete => pairs
            .iter()
            .filter(|p| !is_name(p))
            .map(|p| p.to_string())
            .collect(),
    };
    if action != ExistsAction::Delete && !(action == ExistsAction::Skip && exists) {
        kept.extend(
            values
                .iter()
                .map(|v| format!("{}={}", encode(name), encode(v))),
        );
    }
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// Lenient `application/x-www-form-urlencoded` decoding: `+` is a space, invalid escapes
/// stay as text, invalid UTF-8 becomes U+FFFD (the gateway only compares names with it).
fn decode(raw: &str) -> String {
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Everything but RFC 3986's unreserved characters is escaped.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, ESCAPED).to_string()
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    for name in HOP_BY_HOP.iter().map(|s| s.to_string()).chain(listed) {
        headers.remove(name.as_str());
    }
}

fn cache_key_of(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    vary_headers: &[HeaderName],
    vary_query: &[String],
) -> String {
    let mut key = format!("{method} {}", uri.path());
    if let Some(query) = uri.query() {
        let mut pairs: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let name = decode(pair.split_once('=').map_or(pair, |(n, _)| n));
                vary_query.contains(&name)
            })
            .collect();
        pairs.sort_unstable();
        key.push('?');
        key.push_str(&pairs.join("&"));
    }
    for name in vary_headers {
        key.push('\n');
        key.push_str(name.as_str());
        key.push(':');
        for value in headers.get_all(name) {
            key.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
    }
    key
}

/// Compare secrets without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameter_delete_keeps_the_rest() {
        let q = apply_query(
            Some("starts_with=N&subscription-key=abc&x=1"),
            "subscription-key",
            ExistsAction::Delete,
            &[],
        );
        assert_eq!(q.as_deref(), Some("starts_with=N&x=1"));
        let q = apply_query(
            Some("subscription%2Dkey=abc"),
            "subscription-key",
            ExistsAction::Delete,
            &[],
        );
        assert_eq!(q, None);
        let q = apply_query(None, "a", ExistsAction::Override, &["b c".into()]);
        assert_eq!(q.as_deref(), Some("a=b%20c"));
    }

    #[test]
    fn decoding_is_lenient() {
        assert_eq!(decode("a%2Db+c"), "a-b c");
        assert_eq!(decode("%zz%"), "%zz%");
        assert_eq!(decode("%4"), "%4");
    }

    #[test]
    fn header_actions() {
        let mut h = HeaderMap::new();
        h.insert("x", HeaderValue::from_static("1"));
        apply_header(
            &mut h,
            &HeaderName::from_static("x"),
            ExistsAction::Skip,
            &[HeaderValue::from_static("2")],
        );
        assert_eq!(h["x"], "1");
        apply_header(
            &mut h,
            &HeaderName::from_static("x"),
            ExistsAction::Override,
            &[HeaderValue::from_static("3")],
        );
        assert_eq!(h["x"], "3");
        apply_header(
            &mut h,
            &HeaderName::from_static("x"),
            ExistsAction::Append,
            &[HeaderValue::from_static("4")],
        );
        assert_eq!(h.get_all("x").iter().count(), 2);
        apply_header(
            &mut h,
            &HeaderName::from_static("x"),
            ExistsAction::Delete,
            &[],
        );
        assert!(!h.contains_key("x"));
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
