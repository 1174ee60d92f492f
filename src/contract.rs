//! The HTTP contract's constants: routes, the `starts_with` rule, header names.
//!
//! The handler enforces these and the OpenAPI generator (`cargo xtask openapi`) describes
//! them, so the published document cannot drift from what the component does.

/// The one API operation.
pub const GENERATE_NAME_PATH: &str = "/generate_name";
/// The pregenerated OpenAPI document.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// The Swagger UI page; its assets live under `/docs/<file>`.
pub const DOCS_PATH: &str = "/docs";

/// The optional filter parameter of `GET /generate_name`.
pub const STARTS_WITH: &str = "starts_with";
/// Fewest characters (Unicode scalar values) `starts_with` may have.
pub const STARTS_WITH_MIN_CHARS: usize = 1;
/// Most characters (Unicode scalar values) `starts_with` may have.
pub const STARTS_WITH_MAX_CHARS: usize = 64;
/// Punctuation allowed in `starts_with` besides letters.
pub const STARTS_WITH_PUNCTUATION: [char; 4] = [' ', '\'', '-', '.'];
/// The rule in words, as the 422 body and the OpenAPI description state it.
pub const STARTS_WITH_RULE: &str =
    "1 to 64 characters, each a letter of any script, a space, an apostrophe, a hyphen or a period";

/// Header that carries the secret the gateway injects and the component checks.
pub const BACKEND_KEY_HEADER: &str = "x-backend-key";
/// APIM's subscription key header (enforced by the gateway, declared in the document).
pub const SUBSCRIPTION_KEY_HEADER: &str = "Ocp-Apim-Subscription-Key";
/// APIM's subscription key query parameter.
pub const SUBSCRIPTION_KEY_QUERY: &str = "subscription-key";
/// Response header in which the gateway's `rate-limit` policy states the calls allowed per
/// renewal period (`total-calls-header-name` in `infra/apim/policies/api.xml`).
pub const RATE_LIMIT_LIMIT_HEADER: &str = "X-RateLimit-Limit";
/// Response header in which the gateway's `rate-limit` policy states the calls left in the
/// current period (`remaining-calls-header-name` in `infra/apim/policies/api.xml`).
pub const RATE_LIMIT_REMAINING_HEADER: &str = "X-RateLimit-Remaining";
/// Longest `renewal-period` API Management's `rate-limit` accepts, in seconds, and so the
/// largest `Retry-After` it can send (Microsoft Learn, "Limit call rate by subscription").
pub const RATE_LIMIT_MAX_RENEWAL_SECS: u32 = 300;

/// Media type of every error body the component returns (RFC 9457).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// Media type of successful JSON bodies.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// Methods every route accepts; anything else is `405` with this `Allow` value.
pub const ALLOWED_METHODS: &str = "GET, HEAD";
