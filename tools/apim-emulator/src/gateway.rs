//! The request pipeline, top to bottom: path check, API, `cors`, operation, subscription
//! key, the inbound policies in their order, forwarding (streamed, with the
//! `forward-request` timeout), the outbound policies; CORS headers and the headers the
//! policies add are applied once, to whatever response results.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::cache::{self, Representation, ResponseCache};
use crate::cors::{self, Decision};
use crate::declarations::{Api, Declarations};
use crate::policy::{CacheLookup, Downstream, ExistsAction, Policy, RateLimit};
use crate::rate_limit::{Count, SlidingWindows};
use crate::responses::{self, messages, Body, Challenge, Refusal};

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

/// The API Management pricing tier, named as `infra/main.bicep`'s `apimSku` parameter.
/// It matters to the emulator for one thing: "The internal (built-in) cache is
/// automatically provisioned in all API Management service tiers (except the Consumption
/// tier)" (Microsoft's "Caching overview"), so on Consumption `cache-lookup` and
/// `cache-store` find and keep nothing (no external cache is configured here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Consumption,
    Developer,
    Basic,
    Standard,
    Premium,
    BasicV2,
    StandardV2,
}

impl Tier {
    pub const ALL: [(&'static str, Tier); 7] = [
        ("Consumption", Tier::Consumption),
        ("Developer", Tier::Developer),
        ("Basic", Tier::Basic),
        ("Standard", Tier::Standard),
        ("Premium", Tier::Premium),
        ("BasicV2", Tier::BasicV2),
        ("StandardV2", Tier::StandardV2),
    ];

    pub fn has_builtin_cache(self) -> bool {
        self != Tier::Consumption
    }
}

impl FromStr for Tier {
    type Err = String;
    fn from_str(text: &str) -> Result<Tier, String> {
        Tier::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, tier)| *tier)
            .ok_or_else(|| {
                let names: Vec<&str> = Tier::ALL.iter().map(|(n, _)| *n).collect();
                format!("unknown tier {text:?} (one of {})", names.join(", "))
            })
    }
}

/// Settings fixed for the process's life.
pub struct Options {
    pub tier: Tier,
    /// The built-in cache's bound (tiers with a cache only).
    pub cache_max_bytes: usize,
}

/// What may change while the gateway runs (SIGHUP re-reads it): the declarations with the
/// named values substituted, and the backend URL. Swapped as a whole, so a request sees
/// either the old or the new settings, never a mix.
pub struct Config {
    pub declarations: Declarations,
    pub backend_base: Uri,
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

/// A cache miss the response may fill (`cache-store`).
struct PendingStore {
    key: String,
    representation: Representation,
    downstream: Downstream,
}

/// What the inbound section decided.
enum Inbound {
    /// Forward with this query string; `pending`: a cache miss the response may fill.
    Forward {
        query: Option<String>,
        pending: Option<PendingStore>,
    },
    /// Answer now (a cache hit).
    Answer(Response<Body>),
}

/// What `cache-lookup` found.
enum Lookup {
    Hit(Response<Body>),
    Miss(PendingStore),
    /// The policy does nothing for this request (no built-in cache, not a GET, or an
    /// `Authorization` header without `allow-private-response-caching`).
    Bypass,
}

pub struct Gateway {
    config: RwLock<Arc<Config>>,
    subscription: Subscription,
    client: Client<HttpConnector, Body>,
    windows: Mutex<SlidingWindows>,
    /// `None` on Consumption: no built-in cache.
    cache: Option<Mutex<ResponseCache>>,
}

impl Gateway {
    pub fn new(config: Config, subscription: Subscription, options: Options) -> Gateway {
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
            windows: Mutex::new(SlidingWindows::default()),
            cache: options
                .tier
                .has_builtin_cache()
                .then(|| Mutex::new(ResponseCache::new(options.cache_max_bytes))),
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

    /// Entries and bytes in the built-in cache (`None` without one).
    pub fn cache_usage(&self) -> Option<(usize, usize)> {
        self.cache
            .as_ref()
            .map(|c| c.lock().expect("cache lock").usage())
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

    /// Route, run `cors`, process; then the CORS and policy-added headers, once.
    async fn pipeline(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
        trace: &mut Trace,
    ) -> Response<Body> {
        if let Some(message) = path_refusal(request.uri().path()) {
            return Refusal::BadPath(message).into_response();
        }
        let config = self.config();
        let Some((api, rest)) = find_api(&config.declarations, request.uri().path()) else {
            return Refusal::NotFound.into_response();
        };
        trace.api = Some(api.name.clone());
        let mut decorate = false;
        if let Some(cors) = &api.cors {
            let route_exists = api.operations.iter().any(|op| op.template.matches(&rest));
            match cors::decide(cors, request.method(), request.headers(), route_exists) {
                Decision::Answer(response) => return response,
                Decision::Proceed { decorate: yes } => decorate = yes,
            }
        }
        let origin = request.headers().get(header::ORIGIN).cloned();
        let mut added = HeaderMap::new();
        let mut response = self
            .process(&config, api, &rest, request, peer, &mut added, trace)
            .await
            .unwrap_or_else(Refusal::into_response);
        response.headers_mut().extend(added);
        if let (true, Some(cors), Some(origin)) = (decorate, &api.cors, &origin) {
            cors::decorate(&mut response, cors, origin);
        }
        response
    }

    /// Operation, key, inbound section, backend, outbound section. `added`: headers the
    /// policies put on the response, whatever it turns out to be (e.g. rate-limit's).
    #[allow(clippy::too_many_arguments)]
    async fn process(
        &self,
        config: &Config,
        api: &Api,
        rest: &str,
        request: Request<Incoming>,
        peer: SocketAddr,
        added: &mut HeaderMap,
        trace: &mut Trace,
    ) -> Result<Response<Body>, Refusal> {
        let operation = api
            .operations
            .iter()
            .find(|op| op.method == request.method() && op.template.matches(rest))
            .ok_or(Refusal::NotFound)?;
        trace.operation = Some(operation.name.clone());
        let subscription = self.subscription_of(api, &request)?;
        trace.subscription = subscription;

        let (mut parts, body) = request.into_parts();
        let (query, pending) = match self.inbound(api, subscription, &mut parts, added, trace)? {
            Inbound::Forward { query, pending } => (query, pending),
            Inbound::Answer(response) => return Ok(response),
        };
        let forwarded = forward_request(config, api, parts, body, rest, query.as_deref(), peer)
            .map_err(|_| Refusal::BackendError)?;
        let response = self.send(forwarded, api.forward_timeout, trace).await?;
        self.outbound(api, response, pending).await
    }

    /// The inbound section, policy by policy, in the file's order.
    fn inbound(
        &self,
        api: &Api,
        subscription: Option<&'static str>,
        parts: &mut http::request::Parts,
        added: &mut HeaderMap,
        trace: &mut Trace,
    ) -> Result<Inbound, Refusal> {
        let mut query = parts.uri.query().map(str::to_owned);
        let mut pending = None;
        for policy in &api.policy.inbound {
            match policy {
                Policy::Base | Policy::Cors(_) | Policy::SetBackendService { .. } => {}
                Policy::RateLimit(limit) => self.rate_limit(api, limit, subscription, added)?,
                Policy::CacheLookup(lookup) => match self.cache_lookup(lookup, parts, trace) {
                    Lookup::Hit(response) => return Ok(Inbound::Answer(response)),
                    Lookup::Miss(store) => {
                        // The response will be stored for every client: ask for the full
                        // 200, never a 304 answering this client's own validators.
                        for name in &cache::CONDITIONAL {
                            parts.headers.remove(name);
                        }
                        pending = Some(store);
                    }
                    Lookup::Bypass => {}
                },
                Policy::SetHeader {
                    name,
                    action,
                    values,
                } => apply_header(&mut parts.headers, name, *action, values),
                Policy::SetQueryParameter {
                    name,
                    action,
                    values,
                } => query = apply_query(query.as_deref(), name, *action, values),
                Policy::CacheStore { .. } | Policy::ForwardRequest { .. } => {
                    unreachable!("checked at load")
                }
            }
        }
        Ok(Inbound::Forward { query, pending })
    }

    /// The outbound section on the backend's response; then what `cache-lookup` allows
    /// downstream caches.
    async fn outbound(
        &self,
        api: &Api,
        response: Response<Incoming>,
        mut pending: Option<PendingStore>,
    ) -> Result<Response<Body>, Refusal> {
        let downstream = pending.as_ref().map(|p| p.downstream);
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        let mut body: Body = body.map_err(Into::into).boxed();
        for policy in &api.policy.outbound {
            match policy {
                Policy::SetHeader {
                    name,
                    action,
                    values,
                } => apply_header(&mut parts.headers, name, *action, values),
                Policy::CacheStore { duration } => {
                    let Some(store) = pending.take() else {
                        continue;
                    };
                    if let Some(limit) = self.storable(store.representation, &parts) {
                        let bytes = collect_at_most(body, limit)
                            .await
                            .ok_or(Refusal::BackendError)?;
                        self.store(store.key, &parts, bytes.clone(), *duration);
                        body = responses::full(bytes);
                    }
                }
                _ => {}
            }
        }
        if let (Some(downstream), StatusCode::OK) = (downstream, parts.status) {
            downstream_caching(&mut parts.headers, downstream);
        }
        Ok(Response::from_parts(parts, body))
    }

    /// Which of the subscription's keys the request carries, or APIM's 401.
    ///
    /// Microsoft's "Subscriptions in Azure API Management", summary table: an API that
    /// requires a subscription refuses a call without a key; any API, whether it requires
    /// a subscription or not, refuses a key that is not valid for it ("Access denied: other
    /// key not scoped to applicable product or API"). The local subscription belongs to the
    /// `api` API's product; the public API is in no product, so no key is valid for it and
    /// a key sent there is a 401 (the invalid-key body; the table gives no text).
    fn subscription_of(
        &self,
        api: &Api,
        request: &Request<Incoming>,
    ) -> Result<Option<&'static str>, Refusal> {
        let challenge = || Challenge {
            realm: realm(request.headers(), api),
            header_name: api.key_names.header.clone(),
        };
        let mut header_values = request
            .headers()
            .get_all(api.key_names.header.as_str())
            .iter();
        let from_header = header_values.next().map(|v| v.as_bytes().to_vec());
        if header_values.next().is_some() {
            // Two key headers: refuse rather than guess which one counts.
            return Err(Refusal::InvalidKey(challenge()));
        }
        // "The query parameter is checked only if the header isn't present."
        let from_query = || {
            request.uri().query().and_then(|q| {
                q.split('&')
                    .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
                    .find(|(name, _)| decode(name) == api.key_names.query)
                    .map(|(_, value)| decode(value).into_bytes())
            })
        };
        let Some(given) = from_header.or_else(from_query) else {
            return match api.subscription_required {
                true => Err(Refusal::MissingKey(challenge())),
                false => Ok(None),
            };
        };
        if !api.subscription_required {
            return Err(Refusal::InvalidKey(challenge()));
        }
        let mut matched = None;
        for (index, key) in self.subscription.keys.iter().enumerate() {
            if constant_time_eq(&given, key.as_bytes()) {
                matched = Some(if index == 0 {
                    "local(primary)"
                } else {
                    "local(secondary)"
                });
            }
        }
        matched
            .map(Some)
            .ok_or_else(|| Refusal::InvalidKey(challenge()))
    }

    /// `rate-limit`: count the call in the subscription's sliding window; the documented
    /// response headers go on the response either way.
    fn rate_limit(
        &self,
        api: &Api,
        limit: &RateLimit,
        subscription: Option<&str>,
        added: &mut HeaderMap,
    ) -> Result<(), Refusal> {
        // "This policy is only applied when an API is accessed using a subscription key."
        if subscription.is_none() {
            return Ok(());
        }
        // Both keys belong to the one local subscription: one counter.
        let count = self.windows.lock().expect("rate-limit lock").count(
            (&api.name, "local"),
            limit.calls,
            limit.renewal_period,
        );
        if let Some(name) = &limit.total_calls_header {
            added.insert(name.clone(), HeaderValue::from(limit.calls));
        }
        let (remaining, result) = match count {
            Count::Allowed { remaining } => (remaining, Ok(())),
            Count::Limited { retry_after_secs } => (
                0,
                Err(Refusal::RateLimited {
                    retry_after_secs,
                    header: limit.retry_after_header.clone(),
                }),
            ),
        };
        if let Some(name) = &limit.remaining_calls_header {
            added.insert(name.clone(), HeaderValue::from(remaining));
        }
        result
    }

    /// `cache-lookup` (cache-lookup policy reference): GET requests only; requests with
    /// `Authorization` only with `allow-private-response-caching="true"`.
    fn cache_lookup(
        &self,
        lookup: &CacheLookup,
        parts: &http::request::Parts,
        trace: &mut Trace,
    ) -> Lookup {
        let Some(cache) = &self.cache else {
            return Lookup::Bypass;
        };
        if parts.method != Method::GET {
            return Lookup::Bypass;
        }
        if parts.headers.contains_key(header::AUTHORIZATION)
            && !lookup.allow_private_response_caching
        {
            trace.cache = Some("private");
            return Lookup::Bypass;
        }
        let key = cache::key(&parts.method, &parts.uri, &parts.headers, lookup);
        let representation = Representation::of(&parts.headers);
        let hit = cache.lock().expect("cache lock").get(&key);
        if let Some(hit) = hit {
            trace.cache = Some("hit");
            let mut response = Response::new(responses::full(hit.body));
            *response.status_mut() = hit.status;
            *response.headers_mut() = hit.headers;
            downstream_caching(response.headers_mut(), lookup.downstream);
            return Lookup::Hit(response);
        }
        trace.cache = Some("miss");
        Lookup::Miss(PendingStore {
            key,
            representation,
            downstream: lookup.downstream,
        })
    }

    /// `cache-store` (cache-store policy reference): only `200 OK` responses, of a size
    /// the cache can hold, in a representation the key's clients accept, and not marked
    /// `no-store`/`private` by the backend. `Some(limit)`: collect up to `limit` bytes and
    /// store them.
    fn storable(
        &self,
        representation: Representation,
        parts: &http::response::Parts,
    ) -> Option<usize> {
        let limit = self
            .cache
            .as_ref()?
            .lock()
            .expect("cache lock")
            .max_entry_bytes();
        let length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())?;
        let ok = parts.status == StatusCode::OK
            && length <= limit
            && representation.admits(&parts.headers)
            && !forbids_storing(&parts.headers);
        ok.then_some(limit)
    }

    fn store(&self, key: String, parts: &http::response::Parts, body: Bytes, ttl: Duration) {
        if let Some(cache) = &self.cache {
            cache.lock().expect("cache lock").put(
                key,
                parts.status,
                parts.headers.clone(),
                body,
                ttl,
            );
        }
    }

    /// Send to the backend; no response head within `timeout` is APIM's 500.
    async fn send(
        &self,
        forwarded: Request<Body>,
        timeout: Duration,
        trace: &mut Trace,
    ) -> Result<Response<Incoming>, Refusal> {
        let started = Instant::now();
        let result = tokio::time::timeout(timeout, self.client.request(forwarded)).await;
        trace.backend = Some(started.elapsed());
        match result {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => {
                eprintln!("apim-emulator: backend error: {error}");
                Err(Refusal::BackendError)
            }
            Err(_) => {
                eprintln!("apim-emulator: backend did not answer within {timeout:?}");
                Err(Refusal::BackendError)
            }
        }
    }
}

/// The whole body, or `None` if it fails or exceeds `limit` bytes. (Written out rather
/// than with `http_body_util::Limited`, whose boxed error type rustc cannot prove `Send`
/// for every lifetime inside the connection's future.)
async fn collect_at_most(mut body: Body, limit: usize) -> Option<Bytes> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return None };
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return None;
            }
            out.extend_from_slice(&data);
        }
    }
    Some(Bytes::from(out))
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
        return Some(messages::DOT_SEGMENTS);
    }
    let lower = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e)) || path.contains('\\') {
        return Some(messages::ENCODED_SEPARATORS);
    }
    None
}

/// The realm of APIM's 401 challenge: the API's URL on the host the client called. The
/// `Host` value is used only when it is made of host-name characters (letters, digits,
/// `-`, `.`, `:`, `[`, `]`), so a client cannot write quotes or parameters into the header.
fn realm(headers: &HeaderMap, api: &Api) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}/{}", api.path)
}

/// `downstream-caching-type="public"` (cache-lookup policy reference: "private and shared
/// downstream caching is allowed") with `must-revalidate` (default true: "turns on or off
/// the must-revalidate cache control directive in gateway responses"). The backend's other
/// directives (e.g. `max-age`) are kept. The exact header APIM writes is not documented;
/// `cargo xtask verify` records it.
fn downstream_caching(headers: &mut HeaderMap, downstream: Downstream) {
    if !downstream.public || forbids_storing(headers) {
        return;
    }
    let mut directives: Vec<String> = vec!["public".into()];
    directives.extend(cache_control(headers).into_iter().filter(|d| {
        let name = directive_name(d);
        name != "public" && name != "must-revalidate"
    }));
    if downstream.must_revalidate {
        directives.push("must-revalidate".into());
    }
    if let Ok(value) = HeaderValue::from_str(&directives.join(", ")) {
        headers.insert(header::CACHE_CONTROL, value);
    }
}

fn cache_control(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .collect()
}

/// The backend said the response is not for shared caches.
fn forbids_storing(headers: &HeaderMap) -> bool {
    cache_control(headers).iter().any(|d| {
        let name = directive_name(d);
        name == "no-store" || name == "private"
    })
}

/// A `Cache-Control` directive's name, lower-cased (`max-age=60` -> `max-age`).
fn directive_name(directive: &str) -> String {
    directive
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
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
pub(crate) fn decode(raw: &str) -> String {
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

/// Compare secrets in constant time (`subtle`, as the component does).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
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
    fn downstream_caching_follows_the_lookup() {
        let with = |cache_control: &str, must_revalidate: bool| {
            let mut h = HeaderMap::new();
            if !cache_control.is_empty() {
                h.insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_str(cache_control).unwrap(),
                );
            }
            let downstream = Downstream {
                public: true,
                must_revalidate,
            };
            downstream_caching(&mut h, downstream);
            h.get(header::CACHE_CONTROL)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(
            with("max-age=60", true).as_deref(),
            Some("public, max-age=60, must-revalidate")
        );
        assert_eq!(
            with("public, max-age=60, must-revalidate", false).as_deref(),
            Some("public, max-age=60")
        );
        assert_eq!(with("", true).as_deref(), Some("public, must-revalidate"));
        // The backend's refusal of shared caching is kept.
        assert_eq!(
            with("private, max-age=5", true).as_deref(),
            Some("private, max-age=5")
        );
        assert_eq!(with("no-store", true).as_deref(), Some("no-store"));
    }

    #[test]
    fn paths_with_dot_segments_or_encoded_separators_are_refused() {
        for bad in [
            "/a/../b",
            "/a/./b",
            "/..",
            "/a/%2e%2E/b",
            "/a%2Fb",
            "/a%5cb",
            "/a\\b",
        ] {
            assert!(path_refusal(bad).is_some(), "{bad}");
        }
        for good in [
            "/public/docs/a..b",
            "/public/docs/swagger-ui.css",
            "/api/generate_name",
            "/a/.b",
        ] {
            assert_eq!(path_refusal(good), None, "{good}");
        }
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
