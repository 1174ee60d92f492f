//! APIM policy documents: parsed with a real XML parser (`roxmltree`) into typed policies.
//!
//! The emulator implements exactly the elements and attributes the project's policy files
//! use, and **refuses to start** on anything else, naming the file, line, column and
//! element: nothing is silently ignored, so what passes here is what APIM is asked to run.
//! Named values (`{{name}}`) are substituted in attribute values and text, and an unknown
//! name is an error (as APIM refuses to save such a policy). Policy expressions (`@(...)`,
//! `@{...}`) are not implemented and are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use roxmltree::{Document, Node};

/// The four sections of a policy document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Inbound,
    Backend,
    Outbound,
    OnError,
}

impl Section {
    fn from_tag(tag: &str) -> Option<Section> {
        match tag {
            "inbound" => Some(Section::Inbound),
            "backend" => Some(Section::Backend),
            "outbound" => Some(Section::Outbound),
            "on-error" => Some(Section::OnError),
            _ => None,
        }
    }
}

/// What `exists-action` says to do with a header or query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistsAction {
    Override,
    Skip,
    Append,
    Delete,
}

/// `<cors>` ([cors policy](https://learn.microsoft.com/azure/api-management/cors-policy)).
#[derive(Debug, Clone)]
pub struct Cors {
    pub allow_credentials: bool,
    /// `terminate-unmatched-request`: an unmatched preflight, or an unmatched simple
    /// cross-origin GET/HEAD, gets an empty `200 OK` (`true`) or proceeds without CORS
    /// headers (`false`).
    pub terminate_unmatched: bool,
    /// `*` or exact origins.
    pub origins: Vec<String>,
    /// `<allowed-methods>`; omitted means GET and POST, as the reference says.
    pub methods: Vec<String>,
    pub preflight_max_age: Option<u64>,
    /// `*` or header names (compared case-insensitively).
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
}

/// `<rate-limit>` ([rate-limit policy](https://learn.microsoft.com/azure/api-management/rate-limit-policy)).
#[derive(Debug, Clone)]
pub struct RateLimit {
    /// Calls allowed in any sliding window of `renewal_period`.
    pub calls: u64,
    /// The sliding window's length, at most 300 s.
    pub renewal_period: Duration,
    /// `retry-after-header-name` (default `Retry-After`).
    pub retry_after_header: http::HeaderName,
    /// `remaining-calls-header-name`: calls left in the window after this one.
    pub remaining_calls_header: Option<http::HeaderName>,
    /// `total-calls-header-name`: the value of `calls`.
    pub total_calls_header: Option<http::HeaderName>,
}

/// `<cache-lookup>` ([cache-lookup policy](https://learn.microsoft.com/azure/api-management/cache-lookup-policy)).
#[derive(Debug, Clone)]
pub struct CacheLookup {
    pub vary_by_headers: Vec<http::HeaderName>,
    pub vary_by_query: Vec<String>,
    /// `allow-private-response-caching` (default `false`): whether requests with an
    /// `Authorization` header may be served from and stored in the cache.
    pub allow_private_response_caching: bool,
    pub downstream: Downstream,
}

/// What `cache-lookup` lets caches after the gateway do.
#[derive(Debug, Clone, Copy)]
pub struct Downstream {
    /// `downstream-caching-type="public"`: private and shared downstream caches may keep
    /// the response (the only value implemented).
    pub public: bool,
    /// `must-revalidate` (default `true`): the `must-revalidate` directive on responses
    /// when downstream caching is enabled.
    pub must_revalidate: bool,
}

/// One implemented policy.
#[derive(Debug, Clone)]
pub enum Policy {
    /// `<base />`: the enclosing scope's policies (the emulator has no global scope: none).
    Base,
    Cors(Cors),
    RateLimit(RateLimit),
    SetHeader {
        name: http::HeaderName,
        action: ExistsAction,
        values: Vec<http::HeaderValue>,
    },
    SetQueryParameter {
        name: String,
        action: ExistsAction,
        values: Vec<String>,
    },
    /// `<set-backend-service backend-id>`: one of the declared backend entities.
    SetBackendService {
        backend_id: String,
    },
    CacheLookup(CacheLookup),
    /// `<cache-store duration>`.
    CacheStore {
        duration: Duration,
    },
    /// `<forward-request timeout>`.
    ForwardRequest {
        timeout: Duration,
    },
}

/// A parsed policy file.
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    pub file: PathBuf,
    pub inbound: Vec<Policy>,
    pub backend: Vec<Policy>,
    pub outbound: Vec<Policy>,
    pub on_error: Vec<Policy>,
}

/// `forward-request`'s `timeout` when the attribute is omitted (the reference's default).
pub const DEFAULT_FORWARD_TIMEOUT_SECS: u64 = 300;

/// Elements and where they may appear, for the error message.
const SUPPORTED: &str =
    "base, cors, rate-limit, set-header, set-query-parameter, set-backend-service, \
                         cache-lookup, cache-store, forward-request";

/// Read and parse a policy file.
pub fn load(
    path: &Path,
    named: &BTreeMap<String, String>,
    backend_ids: &[&str],
) -> Result<PolicyDocument> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(path, &text, named, backend_ids)
}

/// Parse policy XML text (see [`load`]).
pub fn parse(
    path: &Path,
    text: &str,
    named: &BTreeMap<String, String>,
    backend_ids: &[&str],
) -> Result<PolicyDocument> {
    let doc = Document::parse(text)
        .map_err(|e| anyhow!("{}: not well-formed XML: {e}", path.display()))?;
    let cx = Cx {
        path,
        doc: &doc,
        named,
        backend_ids,
    };
    let root = doc.root_element();
    if root.tag_name().name() != "policies" {
        return Err(cx.err(root, "the root element must be <policies>"));
    }
    cx.attrs(root, &[])?;
    let mut out = PolicyDocument {
        file: path.to_owned(),
        inbound: Vec::new(),
        backend: Vec::new(),
        outbound: Vec::new(),
        on_error: Vec::new(),
    };
    let mut seen = Vec::new();
    for section_node in cx.children(root)? {
        let tag = section_node.tag_name().name();
        let section = Section::from_tag(tag).ok_or_else(|| {
            cx.err(
                section_node,
                "is not a policy section (inbound, backend, outbound, on-error)",
            )
        })?;
        if seen.contains(&section) {
            return Err(cx.err(section_node, "appears twice"));
        }
        seen.push(section);
        cx.attrs(section_node, &[])?;
        let mut policies = Vec::new();
        for node in cx.children(section_node)? {
            policies.push(cx.policy(node, section)?);
        }
        match section {
            Section::Inbound => out.inbound = policies,
            Section::Backend => out.backend = policies,
            Section::Outbound => out.outbound = policies,
            Section::OnError => out.on_error = policies,
        }
    }
    Ok(out)
}

/// Replace `{{name}}` references with named values; unknown names are an error.
pub fn substitute(text: &str, named: &BTreeMap<String, String>) -> Result<String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with("@(") || trimmed.starts_with("@{") {
        bail!("policy expressions (@(...), @{{...}}) are not implemented by apim-emulator");
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| anyhow!("unclosed {{{{ in {text:?}"))?;
        let name = &after[..end];
        let value = named
            .get(name)
            .ok_or_else(|| anyhow!("unknown named value {{{{{name}}}}}"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

struct Cx<'a, 'input> {
    path: &'a Path,
    doc: &'a Document<'input>,
    named: &'a BTreeMap<String, String>,
    backend_ids: &'a [&'a str],
}

impl Cx<'_, '_> {
    fn err(&self, node: Node, message: &str) -> anyhow::Error {
        let pos = self.doc.text_pos_at(node.range().start);
        let element = if node.is_element() {
            format!(" <{}>", node.tag_name().name())
        } else {
            String::new()
        };
        anyhow!(
            "{}:{}:{}:{element} {message}",
            self.path.display(),
            pos.row,
            pos.col
        )
    }

    /// Element children; text other than whitespace is an error, comments are skipped.
    fn children<'n, 'i>(&self, node: Node<'n, 'i>) -> Result<Vec<Node<'n, 'i>>> {
        let mut out = Vec::new();
        for child in node.children() {
            if child.is_element() {
                out.push(child);
            } else if child.is_text() && !child.text().unwrap_or("").trim().is_empty() {
                return Err(self.err(node, "unexpected text content"));
            }
        }
        Ok(out)
    }

    /// Refuse attributes outside `allowed`.
    fn attrs(&self, node: Node, allowed: &[&str]) -> Result<()> {
        for attr in node.attributes() {
            if !allowed.contains(&attr.name()) || attr.namespace().is_some() {
                return Err(self.err(
                    node,
                    &format!("attribute `{}` is not implemented by apim-emulator (implemented: {allowed:?})", attr.name()),
                ));
            }
        }
        Ok(())
    }

    fn attr(&self, node: Node, name: &str) -> Result<Option<String>> {
        node.attribute(name)
            .map(|v| {
                substitute(v, self.named)
                    .map_err(|e| self.err(node, &format!("attribute `{name}`: {e}")))
            })
            .transpose()
    }

    fn required(&self, node: Node, name: &str) -> Result<String> {
        self.attr(node, name)?
            .ok_or_else(|| self.err(node, &format!("attribute `{name}` is required")))
    }

    fn number(&self, node: Node, name: &str) -> Result<Option<u64>> {
        self.attr(node, name)?
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    self.err(node, &format!("`{name}` must be a whole number, got {v:?}"))
                })
            })
            .transpose()
    }

    fn boolean(&self, node: Node, name: &str, default: bool) -> Result<bool> {
        match self.attr(node, name)?.as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(self.err(
                node,
                &format!("`{name}` must be true or false, got {other:?}"),
            )),
        }
    }

    fn text(&self, node: Node) -> Result<String> {
        if let Some(child) = node.children().find(|c| c.is_element()) {
            return Err(self.err(child, "no child elements expected"));
        }
        let raw: String = node.children().filter_map(|c| c.text()).collect();
        substitute(raw.trim(), self.named).map_err(|e| self.err(node, &e.to_string()))
    }

    /// Children that must all be `<tag>` elements with text; returns their texts.
    fn texts(&self, node: Node, tag: &str) -> Result<Vec<String>> {
        self.children(node)?
            .into_iter()
            .map(|child| {
                if child.tag_name().name() != tag {
                    return Err(self.err(child, &format!("only <{tag}> is implemented here")));
                }
                self.attrs(child, &[])?;
                self.text(child)
            })
            .collect()
    }

    fn exists_action(&self, node: Node) -> Result<ExistsAction> {
        match self
            .attr(node, "exists-action")?
            .as_deref()
            .unwrap_or("override")
        {
            "override" => Ok(ExistsAction::Override),
            "skip" => Ok(ExistsAction::Skip),
            "append" => Ok(ExistsAction::Append),
            "delete" => Ok(ExistsAction::Delete),
            other => Err(self.err(
                node,
                &format!("exists-action {other:?} is not override, skip, append or delete"),
            )),
        }
    }

    fn allowed_in(&self, node: Node, section: Section, sections: &[Section]) -> Result<()> {
        if sections.contains(&section) {
            Ok(())
        } else {
            Err(self.err(
                node,
                &format!("is not allowed in the {section:?} section (allowed: {sections:?})"),
            ))
        }
    }

    /// One policy element: where it may appear, and its parser.
    #[allow(clippy::type_complexity)]
    fn policy(&self, node: Node, section: Section) -> Result<Policy> {
        use Section::*;
        let (allowed, parse): (&[Section], fn(&Self, Node) -> Result<Policy>) =
            match node.tag_name().name() {
                "base" => (&[Inbound, Backend, Outbound, OnError], Self::base),
                "cors" => (&[Inbound], Self::cors),
                "rate-limit" => (&[Inbound], Self::rate_limit),
                "set-header" => (&[Inbound, Outbound, Backend, OnError], Self::set_header),
                "set-query-parameter" => (&[Inbound, Backend], Self::set_query_parameter),
                "set-backend-service" => (&[Inbound, Backend], Self::set_backend_service),
                "cache-lookup" => (&[Inbound], Self::cache_lookup),
                "cache-store" => (&[Outbound], Self::cache_store),
                "forward-request" => (&[Backend], Self::forward_request),
                _ => {
                    return Err(self.err(
                        node,
                        &format!("is not implemented by apim-emulator (implemented: {SUPPORTED})"),
                    ))
                }
            };
        self.allowed_in(node, section, allowed)?;
        parse(self, node)
    }

    fn no_children(&self, node: Node) -> Result<()> {
        match self.children(node)?.first() {
            None => Ok(()),
            Some(child) => Err(self.err(*child, "no child elements are implemented here")),
        }
    }

    fn header_name(&self, node: Node, attribute: &str) -> Result<Option<http::HeaderName>> {
        self.attr(node, attribute)?
            .map(|name| {
                name.parse().map_err(|_| {
                    self.err(
                        node,
                        &format!("`{attribute}`: invalid header name {name:?}"),
                    )
                })
            })
            .transpose()
    }

    fn base(&self, node: Node) -> Result<Policy> {
        self.attrs(node, &[])?;
        self.no_children(node)?;
        Ok(Policy::Base)
    }

    fn cors(&self, node: Node) -> Result<Policy> {
        self.attrs(node, &["allow-credentials", "terminate-unmatched-request"])?;
        let mut cors = Cors {
            allow_credentials: self.boolean(node, "allow-credentials", false)?,
            // The attribute table gives `false` as the default (the same page's "common
            // configuration issues" calls `true` the default; the table is followed).
            terminate_unmatched: self.boolean(node, "terminate-unmatched-request", false)?,
            origins: Vec::new(),
            methods: vec!["GET".into(), "POST".into()],
            preflight_max_age: None,
            allowed_headers: Vec::new(),
            expose_headers: Vec::new(),
        };
        for child in self.children(node)? {
            match child.tag_name().name() {
                "allowed-origins" => {
                    self.attrs(child, &[])?;
                    cors.origins = self.texts(child, "origin")?;
                }
                "allowed-methods" => {
                    self.attrs(child, &["preflight-result-max-age"])?;
                    cors.preflight_max_age = self.number(child, "preflight-result-max-age")?;
                    cors.methods = self.texts(child, "method")?;
                    if cors.methods.is_empty() {
                        return Err(self.err(child, "at least one <method> is required"));
                    }
                }
                "allowed-headers" => {
                    self.attrs(child, &[])?;
                    cors.allowed_headers = self.texts(child, "header")?;
                }
                "expose-headers" => {
                    self.attrs(child, &[])?;
                    cors.expose_headers = self.texts(child, "header")?;
                }
                _ => return Err(self.err(child, "is not implemented inside <cors>")),
            }
        }
        if cors.origins.is_empty() {
            return Err(self.err(
                node,
                "<allowed-origins> with at least one <origin> is required",
            ));
        }
        if cors.allow_credentials && cors.origins.iter().any(|o| o == "*") {
            return Err(self.err(
                node,
                "allow-credentials=\"true\" cannot be combined with origin *",
            ));
        }
        Ok(Policy::Cors(cors))
    }

    fn rate_limit(&self, node: Node) -> Result<Policy> {
        self.attrs(
            node,
            &[
                "calls",
                "renewal-period",
                "retry-after-header-name",
                "remaining-calls-header-name",
                "total-calls-header-name",
            ],
        )?;
        let calls = self
            .number(node, "calls")?
            .ok_or_else(|| self.err(node, "attribute `calls` is required"))?;
        let period = self
            .number(node, "renewal-period")?
            .ok_or_else(|| self.err(node, "attribute `renewal-period` is required"))?;
        if calls == 0 || period == 0 {
            return Err(self.err(node, "calls and renewal-period must be positive"));
        }
        // "Maximum allowed value: 300 seconds" (rate-limit policy reference).
        if period > 300 {
            return Err(self.err(
                node,
                &format!("renewal-period {period} is above APIM's maximum of 300 seconds"),
            ));
        }
        if let Some(c) = self.children(node)?.first() {
            return Err(self.err(
                *c,
                "per-API/operation limits inside <rate-limit> are not implemented",
            ));
        }
        Ok(Policy::RateLimit(RateLimit {
            calls,
            renewal_period: Duration::from_secs(period),
            retry_after_header: self
                .header_name(node, "retry-after-header-name")?
                .unwrap_or(http::header::RETRY_AFTER),
            remaining_calls_header: self.header_name(node, "remaining-calls-header-name")?,
            total_calls_header: self.header_name(node, "total-calls-header-name")?,
        }))
    }

    fn set_header(&self, node: Node) -> Result<Policy> {
        self.attrs(node, &["name", "exists-action"])?;
        let name = self.required(node, "name")?;
        let name = name
            .parse()
            .map_err(|_| self.err(node, &format!("invalid header name {name:?}")))?;
        let action = self.exists_action(node)?;
        let values = self
            .texts(node, "value")?
            .into_iter()
            .map(|v| {
                v.parse()
                    .map_err(|_| self.err(node, "invalid header value"))
            })
            .collect::<Result<Vec<_>>>()?;
        if action != ExistsAction::Delete && values.is_empty() {
            return Err(self.err(
                node,
                "at least one <value> is required unless exists-action=\"delete\"",
            ));
        }
        Ok(Policy::SetHeader {
            name,
            action,
            values,
        })
    }

    fn set_query_parameter(&self, node: Node) -> Result<Policy> {
        self.attrs(node, &["name", "exists-action"])?;
        let name = self.required(node, "name")?;
        let action = self.exists_action(node)?;
        let values = self.texts(node, "value")?;
        if action != ExistsAction::Delete && values.is_empty() {
            return Err(self.err(
                node,
                "at least one <value> is required unless exists-action=\"delete\"",
            ));
        }
        Ok(Policy::SetQueryParameter {
            name,
            action,
            values,
        })
    }

    fn set_backend_service(&self, node: Node) -> Result<Policy> {
        self.attrs(node, &["backend-id"])?;
        self.no_children(node)?;
        let id = self.required(node, "backend-id")?;
        if !self.backend_ids.contains(&id.as_str()) {
            return Err(self.err(
                node,
                &format!(
                    "backend-id {id:?} is not a declared backend (declared: {:?})",
                    self.backend_ids
                ),
            ));
        }
        Ok(Policy::SetBackendService { backend_id: id })
    }

    fn cache_lookup(&self, node: Node) -> Result<Policy> {
        self.attrs(
            node,
            &[
                "vary-by-developer",
                "vary-by-developer-groups",
                "downstream-caching-type",
                "must-revalidate",
                "allow-private-response-caching",
            ],
        )?;
        // Required by the reference; the public API has no subscriptions, so varying by
        // developer cannot apply and only "false" is implemented.
        for required in ["vary-by-developer", "vary-by-developer-groups"] {
            if self.attr(node, required)?.is_none() || self.boolean(node, required, false)? {
                return Err(self.err(
                    node,
                    &format!("`{required}` is required and only \"false\" is implemented"),
                ));
            }
        }
        // `none` (the default) and `private` would need the exact Cache-Control APIM
        // writes for them, which the reference does not give: refused, not guessed.
        match self.attr(node, "downstream-caching-type")?.as_deref() {
            Some("public") => {}
            other => {
                return Err(self.err(
                    node,
                    &format!("downstream-caching-type {other:?}: only \"public\" is implemented"),
                ))
            }
        }
        let mut lookup = CacheLookup {
            vary_by_headers: Vec::new(),
            vary_by_query: Vec::new(),
            allow_private_response_caching: self.boolean(
                node,
                "allow-private-response-caching",
                false,
            )?,
            downstream: Downstream {
                public: true,
                must_revalidate: self.boolean(node, "must-revalidate", true)?,
            },
        };
        for child in self.children(node)? {
            self.attrs(child, &[])?;
            match child.tag_name().name() {
                "vary-by-header" => lookup.vary_by_headers.push(
                    self.text(child)?
                        .parse()
                        .map_err(|_| self.err(child, "invalid header name"))?,
                ),
                // "Use semicolon as a separator" for several parameters in one element.
                "vary-by-query-parameter" => lookup.vary_by_query.extend(
                    self.text(child)?
                        .split(';')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned),
                ),
                _ => return Err(self.err(child, "is not implemented inside <cache-lookup>")),
            }
        }
        Ok(Policy::CacheLookup(lookup))
    }

    fn cache_store(&self, node: Node) -> Result<Policy> {
        self.attrs(node, &["duration"])?;
        self.no_children(node)?;
        let seconds = self
            .number(node, "duration")?
            .ok_or_else(|| self.err(node, "attribute `duration` is required"))?;
        Ok(Policy::CacheStore {
            duration: Duration::from_secs(seconds),
        })
    }

    fn forward_request(&self, node: Node) -> Result<Policy> {
        self.attrs(node, &["timeout"])?;
        self.no_children(node)?;
        // forward-request reference: `timeout` is optional, default 300 s, minimum 0;
        // values above 240 s "may not be honored" by Azure's network (accepted here).
        let seconds = self
            .number(node, "timeout")?
            .unwrap_or(DEFAULT_FORWARD_TIMEOUT_SECS);
        Ok(Policy::ForwardRequest {
            timeout: Duration::from_secs(seconds),
        })
    }
}
